import JobdropSystem

/// The published jobs of a site as its index lists them, newest first (by creation, then id), each with
/// its JSON and (while among the newest) its row of the job page.
///
/// A sorted array rather than a table: a render walks it with no lookup per job, which is what a render
/// of 100,000 jobs spends its time on otherwise. A new job (almost always the newest) is appended; a
/// change or a removal finds its job by binary search on (creation, id). A removal leaves a gap that the
/// next walk closes, so expiring many jobs at once costs one pass.
struct IndexEntries {
  /// A published job.
  struct Entry {
    var id: String
    var created: Timestamp
    var state: JobState
    var json: [UInt8]
    var row: [UInt8]
    fileprivate var removed = false

    init(id: String, created: Timestamp, state: JobState, json: [UInt8], row: [UInt8]) {
      self.id = id
      self.created = created
      self.state = state
      self.json = json
      self.row = row
    }
  }

  /// Oldest first; removed entries stay as gaps until the next walk.
  private var entries: [Entry] = []
  private var gaps = 0
  /// How many jobs are in each state.
  private(set) var counts: [JobState: Int] = [:]

  /// How many jobs are listed.
  var count: Int { entries.count - gaps }

  /// Adds `entry`, or replaces the entry of the same job.
  mutating func put(_ entry: Entry) {
    counts[entry.state, default: 0] += 1
    if let last = entries.last, (last.created, last.id) < (entry.created, entry.id) {
      entries.append(entry)
      return
    }
    let index = position(of: entry.id, created: entry.created)
    guard index < entries.count, entries[index].id == entry.id else {
      entries.insert(entry, at: index)
      return
    }
    if entries[index].removed {
      gaps -= 1
    } else {
      counts[entries[index].state, default: 1] -= 1
    }
    entries[index] = entry
  }

  /// Removes the job `id` created at `created`, if it is listed.
  mutating func remove(id: String, created: Timestamp) {
    let index = position(of: id, created: created)
    guard index < entries.count, entries[index].id == id, !entries[index].removed else { return }
    counts[entries[index].state, default: 1] -= 1
    entries[index].removed = true
    entries[index].json = []
    entries[index].row = []
    gaps += 1
  }

  /// Calls `body` with each listed entry, newest first, and its place in that order (0 for the newest).
  mutating func walkNewestFirst(_ body: (_ offset: Int, _ entry: inout Entry) -> Void) {
    if gaps > 0 {
      entries.removeAll { $0.removed }
      gaps = 0
    }
    var offset = 0
    for index in entries.indices.reversed() {
      body(offset, &entries[index])
      offset += 1
    }
  }

  /// The index of the first entry not before (created, id).
  private func position(of id: String, created: Timestamp) -> Int {
    var low = 0
    var high = entries.count
    while low < high {
      let middle = (low + high) / 2
      if (entries[middle].created, entries[middle].id) < (created, id) {
        low = middle + 1
      } else {
        high = middle
      }
    }
    return low
  }
}
