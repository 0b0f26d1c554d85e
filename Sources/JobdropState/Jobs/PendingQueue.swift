import JobdropSystem

/// The pending jobs in the order they run: earliest created first (ties by id).
///
/// Claims arrive in creation order, so inserting is an append in the common case; taking the next job
/// is O(1). Keeps job start cost flat however many jobs wait.
struct PendingQueue {
  /// A job's place in the order: created, then id.
  struct Key: Comparable {
    var created: Timestamp
    var id: String
    static func < (lhs: Key, rhs: Key) -> Bool { (lhs.created, lhs.id) < (rhs.created, rhs.id) }
  }

  private var keys: [Key] = []
  private var head = 0

  var count: Int { keys.count - head }

  /// Adds a job that became pending.
  mutating func insert(_ job: Job) { insert(id: job.id, created: job.record.createdAt) }

  /// Adds the job `id`, created at `created`, that became pending.
  mutating func insert(id: String, created: Timestamp) {
    let key = Key(created: created, id: id)
    if keys.last.map({ $0 < key }) ?? true {
      keys.append(key)
      return
    }
    var low = head
    var high = keys.count
    while low < high {
      let middle = (low + high) / 2
      if keys[middle] < key { low = middle + 1 } else { high = middle }
    }
    keys.insert(key, at: low)
  }

  /// The key of the job to run next, if any.
  var first: Key? { head < keys.count ? keys[head] : nil }

  /// Removes and returns the id of the job to run next.
  mutating func popFirst() -> String? {
    guard head < keys.count else { return nil }
    let id = keys[head].id
    head += 1
    if head > 1024 && head * 2 > keys.count {
      keys.removeFirst(head)
      head = 0
    }
    return id
  }
}
