import JobdropSystem

/// What the store knows of every job, as a value with no I/O: the started jobs whole, every other job as
/// a small summary, the fair queue of pending jobs, retry times, partners' counts of jobs in progress,
/// the idempotency keys, cancels and the jobs whose documents wait to be written.
///
/// ``JobStore`` holds one under its lock and applies every change the backend has made durable; each
/// change here is a plain function of the table and the job, tested without a disk.
struct JobTable {
  /// A pending or finished job as the table keeps it.
  struct Summary: Equatable {
    var state: JobState
    var partner: String?
    var createdAt: Timestamp
    /// A pending job's retry time.
    var retryAt: Timestamp?
    /// The idempotency key its request names, forgotten when the job expires.
    var idempotencyKey: String?
  }

  private struct KeySlot: Hashable {
    var partner: String?
    var key: String
  }

  /// About a kilobyte each: a few megabytes, whatever the backlog.
  static let pendingRecordLimit = 4096

  /// Whether pending jobs wait in this table's fair queue (one machine) rather than in a shared table
  /// that picks them across nodes.
  let queuesLocally: Bool
  /// The started jobs (and claims staged in a group), whole.
  private(set) var jobs: [String: Job] = [:]
  /// The pending and finished jobs.
  private(set) var summaries: [String: Summary] = [:]
  /// The records of up to ``pendingRecordLimit`` pending jobs, so that a burst's runner does not read
  /// back the status file its intake just wrote; the others are read back when they start.
  private var pendingRecords: [String: JobRecord] = [:]
  /// The pending jobs waiting to retry, and when each may start.
  private var retryTimes: [String: Timestamp] = [:]
  private var pending = FairQueue()
  /// How many jobs of each partner are pending or started.
  private var active: [String?: Int] = [:]
  /// The job each partner's idempotency key names while that job is published.
  private var keys: [KeySlot: String] = [:]
  /// Started jobs whose partner asked to cancel them: their runner stops at its next check.
  var cancelRequested = Set<String>()
  /// Started jobs of this node whose lease it lost (their runner abandons them).
  var leaseLost = Set<String>()
  /// With a shared table: the jobs this node started and runs now (the table's echo of their start is
  /// not applied again).
  var runningHere = Set<String>()
  /// Jobs whose documents could not be written (a full outbox).
  var unpublished = Set<String>()
  /// The export files of jobs whose success became a cancel, removed once the move is recorded.
  var withdrawals: [String: String] = [:]
  /// Jobs whose outcome is being committed now, without the store's lock: a cancel or an alias for
  /// one waits until it is recorded (``JobStore/waitForCommitLocked(_:)``).
  var committing = Set<String>()

  init(queuesLocally: Bool) { self.queuesLocally = queuesLocally }

  // MARK: Reading

  /// Where job `id` is, if the table knows it.
  func state(of id: String) -> JobState? { jobs[id]?.state ?? summaries[id]?.state }

  /// The job `id` as far as the table holds it whole (started, or pending with its record kept).
  func cached(_ id: String) -> Job? {
    if let job = jobs[id] { return job }
    guard summaries[id]?.state == .pending, let record = pendingRecords[id] else { return nil }
    return Job(record: record, state: .pending)
  }

  /// The partner whose job `id` is (`.some(nil)`: no partner), if the table knows it.
  func partner(of id: String) -> String?? {
    if let job = jobs[id] { return .some(job.record.partner) }
    return summaries[id].map { $0.partner }
  }

  func activeCount(partner: String?) -> Int { active[partner] ?? 0 }

  /// Each partner's pending and started jobs, and its oldest pending job's creation (for the metrics;
  /// a walk over the table, made every few seconds).
  func queueStates() -> [String?: (pending: Int, started: Int, oldestPending: Timestamp?)] {
    var states: [String?: (pending: Int, started: Int, oldestPending: Timestamp?)] = [:]
    for summary in summaries.values where summary.state == .pending {
      var state = states[summary.partner] ?? (0, 0, nil)
      state.pending += 1
      state.oldestPending = min(state.oldestPending ?? summary.createdAt, summary.createdAt)
      states[summary.partner] = state
    }
    for job in jobs.values where job.state == .started {
      states[job.record.partner, default: (0, 0, nil)].started += 1
    }
    return states
  }

  /// How many jobs of every partner are pending or started.
  var activeTotal: Int { active.values.reduce(0, +) }

  /// The job `partner`'s idempotency key `key` names, if one is published.
  func keyed(partner: String?, key: String) -> String? { keys[KeySlot(partner: partner, key: key)] }

  /// When the earliest job waiting to retry may start.
  var nextRetry: Timestamp? { retryTimes.values.min() }

  /// The finished jobs created at or before `cutoff`.
  func finished(createdBy cutoff: Timestamp) -> [(id: String, summary: Summary)] {
    summaries.filter { $0.value.state.isFinal && $0.value.createdAt <= cutoff }.map { ($0.key, $0.value) }
  }

  // MARK: Changes

  /// Puts `job` in the table as it is now: whole while it is started, as a summary otherwise.
  mutating func store(_ job: Job) {
    retryTimes[job.id] = job.state == .pending ? job.record.retryAt : nil
    if job.state == .pending && queuesLocally
      && (pendingRecords[job.id] != nil || pendingRecords.count < JobTable.pendingRecordLimit)
    {
      pendingRecords[job.id] = job.record
    } else {
      pendingRecords[job.id] = nil
    }
    if job.state != .started { runningHere.remove(job.id) }
    if job.state == .started {
      summaries[job.id] = nil
      jobs[job.id] = job
    } else {
      jobs[job.id] = nil
      summaries[job.id] = Summary(
        state: job.state, partner: job.record.partner, createdAt: job.record.createdAt,
        retryAt: job.record.retryAt, idempotencyKey: job.record.request?.idempotencyKey)
    }
  }

  /// A record rewritten in its state (progress, an alias, a webhook's status).
  mutating func written(_ job: Job) {
    if job.state == .pending && pendingRecords[job.id] != nil { pendingRecords[job.id] = job.record }
    if jobs[job.id] != nil { jobs[job.id] = job }
  }

  /// A job found at start, or made by a claim: in the table, the queue, the counts and the keys.
  mutating func add(_ job: Job) {
    store(job)
    if job.state == .pending && queuesLocally { pending.insert(job) }
    if !job.state.isFinal { active[job.record.partner, default: 0] += 1 }
    trackKey(of: job)
  }

  /// A claim staged in a group: it counts for limits and keys at once, queued only once committed.
  mutating func stage(_ job: Job) {
    jobs[job.id] = job
    if job.state == .pending {
      active[job.record.partner, default: 0] += 1
      trackKey(of: job)
    }
  }

  /// A staged claim whose group's commit failed: as if it had never been.
  mutating func unstage(_ job: Job) {
    jobs[job.id] = nil
    guard job.state == .pending else { return }
    active[job.record.partner, default: 1] -= 1
    forgetKey(of: job)
  }

  /// A staged claim made durable (as `job`): stored and queued.
  mutating func committed(_ job: Job) {
    store(job)
    if job.state == .pending && queuesLocally { pending.insert(job) }
  }

  /// A staged claim the shared table refused past its partner's limit.
  mutating func refusedAtClaim(_ job: Job) {
    active[job.record.partner, default: 1] -= 1
    forgetKey(of: job)
    store(job)
  }

  /// A durable move from `job`'s state to `moved`'s.
  mutating func moved(from job: Job, to moved: Job) {
    store(moved)
    if moved.state == .pending && queuesLocally { pending.insert(moved) }
    if moved.state.isFinal && !job.state.isFinal {
      active[moved.record.partner, default: 1] -= 1
      cancelRequested.remove(moved.id)
    }
  }

  /// A job as another process wrote it (a shared table): returns whether the table took it. A finished
  /// job never goes back (a change read before this node's own later one), and this node's own start,
  /// read back, is no news.
  mutating func reconcile(_ job: Job) -> Bool {
    if job.state == .started && runningHere.contains(job.id) { return false }
    let previous = state(of: job.id)
    if let previous, previous.isFinal, !job.state.isFinal { return false }
    let wasLive = previous.map { !$0.isFinal } ?? false
    store(job)
    if !job.state.isFinal && !wasLive {
      active[job.record.partner, default: 0] += 1
    } else if job.state.isFinal && wasLive {
      active[job.record.partner, default: 1] -= 1
      cancelRequested.remove(job.id)
      leaseLost.remove(job.id)
    }
    trackKey(of: job)
    return true
  }

  /// Takes the pending job created first that may start now (`read` reads back a record the table does
  /// not keep; it must not touch the table); one whose record cannot be read now waits a second.
  /// Returns the job and the ids that could not be read.
  mutating func nextPending(now: Timestamp, read: (String) -> Job?) -> (Job?, unreadable: [String]) {
    var next: Job?
    var notYet: [String] = []
    var unreadable: [String] = []
    while next == nil, let id = pending.popFirst() {
      guard let summary = summaries[id], summary.state == .pending else { continue }
      if let retryAt = summary.retryAt, retryAt > now {
        notYet.append(id)
      } else if let job = cached(id) ?? read(id), job.state == .pending {
        next = job
      } else {
        unreadable.append(id)
        summaries[id]?.retryAt = now.adding(seconds: 1)
        retryTimes[id] = now.adding(seconds: 1)
        notYet.append(id)
      }
    }
    for id in notYet {
      if let summary = summaries[id] {
        pending.insert(id: id, created: summary.createdAt, partner: summary.partner)
      }
    }
    return (next, unreadable)
  }

  /// A job taken by ``nextPending(now:read:)`` that could not be started: queued again.
  mutating func requeue(_ job: Job) { pending.insert(job) }

  /// A started job its partner cancelled (`marked` has the cancel in its record).
  mutating func cancelled(_ marked: Job) {
    jobs[marked.id] = marked
    cancelRequested.insert(marked.id)
  }

  /// An expired job, gone from the table with its key.
  mutating func expired(_ id: String) {
    guard let summary = summaries.removeValue(forKey: id) else { return }
    if let key = summary.idempotencyKey, keys[KeySlot(partner: summary.partner, key: key)] == id {
      keys[KeySlot(partner: summary.partner, key: key)] = nil
    }
    unpublished.remove(id)
  }

  /// Remembers the job an idempotency key names: the first job made with it
  /// (``JobTransitions/holdsKey(_:)``); a later one refused for it never takes it over.
  private mutating func trackKey(of job: Job) {
    guard let key = job.record.request?.idempotencyKey else { return }
    let slot = KeySlot(partner: job.record.partner, key: key)
    guard JobTransitions.holdsKey(job) else {
      if keys[slot] == job.id { keys[slot] = nil }
      return
    }
    if let holder = keys[slot], holder != job.id,
      let created = jobs[holder]?.record.createdAt ?? summaries[holder]?.createdAt,
      created <= job.record.createdAt
    {
      return
    }
    keys[slot] = job.id
  }

  /// Forgets the key of a job that no longer holds it (a claim undone or refused).
  private mutating func forgetKey(of job: Job) {
    guard let key = job.record.request?.idempotencyKey else { return }
    let slot = KeySlot(partner: job.record.partner, key: key)
    if keys[slot] == job.id { keys[slot] = nil }
  }
}
