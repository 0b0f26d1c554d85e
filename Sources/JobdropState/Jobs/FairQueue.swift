import JobdropSystem

/// The pending jobs of every partner in the order they run: oldest first within a partner, and across
/// partners the one served least recently first. While one partner has a thousand jobs waiting, another
/// partner's new job is the next one taken: it waits only for the jobs already running.
///
/// Jobs of no partner (a jobdrop without `--partners`) form one queue, so the order is then simply
/// oldest first. Taking a job costs O(partners with waiting jobs).
struct FairQueue {
  private var queues: [String?: PendingQueue] = [:]
  /// When each partner last had a job taken (a running count); a partner never served counts as -1.
  private var served: [String?: Int] = [:]
  private var clock = 0

  var count: Int { queues.values.reduce(0) { $0 + $1.count } }

  /// Adds a job that became pending.
  mutating func insert(_ job: Job) {
    insert(id: job.id, created: job.record.createdAt, partner: job.record.partner)
  }

  /// Adds `partner`'s job `id`, created at `created`, that became pending.
  mutating func insert(id: String, created: Timestamp, partner: String?) {
    queues[partner, default: PendingQueue()].insert(id: id, created: created)
  }

  /// Removes and returns the id of the job to run next: the oldest job of the partner served least
  /// recently (ties: the partner whose oldest job is older).
  mutating func popFirst() -> String? {
    var best: (partner: String?, served: Int, oldest: PendingQueue.Key)?
    for (partner, queue) in queues {
      guard let oldest = queue.first else { continue }
      let turn = served[partner] ?? -1
      if best == nil || (turn, oldest) < (best!.served, best!.oldest) { best = (partner, turn, oldest) }
    }
    // Not `best?.partner`: optional chaining would flatten the partner `nil` (no partner) into "none".
    guard let best else { return nil }
    let partner = best.partner
    let id = queues[partner]?.popFirst()
    if queues[partner]?.count == 0 { queues[partner] = nil }
    served[partner] = clock
    clock += 1
    return id
  }
}
