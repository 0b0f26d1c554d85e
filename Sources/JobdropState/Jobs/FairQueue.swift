import JobdropSystem

/// The pending jobs of every partner in the order they run: oldest first within a partner, partners in
/// turn. While one partner has a thousand jobs waiting, another partner's new job is the next but one
/// taken at most (one job of each partner whose turn comes first).
///
/// Jobs of no partner (a jobdrop without `--partners`) form one queue, so the order is then simply
/// oldest first.
struct FairQueue {
  private var queues: [String?: PendingQueue] = [:]
  /// Partners with waiting jobs, the one whose turn it is first.
  private var turns: [String?] = []

  var count: Int { queues.values.reduce(0) { $0 + $1.count } }

  /// Adds a job that became pending; a partner that had none waiting joins the end of the line.
  mutating func insert(_ job: Job) {
    let partner = job.record.partner
    if queues[partner, default: PendingQueue()].count == 0 && !turns.contains(partner) {
      turns.append(partner)
    }
    queues[partner, default: PendingQueue()].insert(job)
  }

  /// Removes and returns the id of the job to run next: the oldest of the partner whose turn it is, which
  /// then goes to the end of the line.
  mutating func popFirst() -> String? {
    while !turns.isEmpty {
      let partner = turns.removeFirst()
      guard let id = queues[partner]?.popFirst() else {
        queues[partner] = nil
        continue
      }
      if queues[partner]!.count > 0 {
        turns.append(partner)
      } else {
        queues[partner] = nil
      }
      return id
    }
    return nil
  }
}
