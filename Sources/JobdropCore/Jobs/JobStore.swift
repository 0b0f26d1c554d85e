import Logging

/// The live jobs, in memory and on disk: every state change goes to the spool first, then to the outbox.
///
/// Holds the one in-memory table of jobs, loaded from the spool at start. After each call the spool is
/// durable and the job's own documents are published; `index.json` is rendered by ``publishIndex(force:)``
/// at most once per ``indexInterval`` unless forced, so bursts do not re-render it per job.
public final class JobStore: @unchecked Sendable {
  public let spool: Spool
  public let outbox: Outbox
  let logger: Logger
  private(set) var jobs: [String: Job] = [:]
  private var indexDirty = true
  private var lastIndex: Timestamp = Timestamp(milliseconds: 0)
  /// The shortest time between two index renders, in milliseconds.
  public var indexInterval: Int64 = 250

  public init(spool: Spool, outbox: Outbox, logger: Logger) {
    self.spool = spool
    self.outbox = outbox
    self.logger = logger
  }

  /// Loads the spool, sends jobs a dead process left `started` back to `pending`, and republishes every
  /// job's documents and the index.
  public func recover() throws {
    for var job in try spool.load() {
      if job.state == .started {
        var record = job.record
        record.updatedAt = .now()
        record.rows = nil
        job = try spool.move(job, to: .pending, record: record)
        logger.notice("job was cut short; it will run again", metadata: ["job.id": "\(job.id)"])
      }
      jobs[job.id] = job
      try outbox.publish(job)
    }
    indexDirty = true
    try publishIndex(force: true)
  }

  /// All jobs, in no particular order.
  public var all: [Job] { Array(jobs.values) }

  /// The pending job created first, if any.
  public func nextPending() -> Job? {
    jobs.values.filter { $0.state == .pending }.min {
      ($0.record.createdAt, $0.id) < ($1.record.createdAt, $1.id)
    }
  }

  /// Claims a request from the inbox as a new job in `state` (`pending`, or `failed` with the record's error).
  @discardableResult
  public func claim(_ name: FileName, from inbox: Inbox, record: JobRecord, state: JobState) throws -> Job {
    try spool.claim(name, from: inbox.directory, as: record, state: state)
    let job = Job(record: record, state: state)
    jobs[job.id] = job
    try outbox.publish(job)
    indexDirty = true
    return job
  }

  /// Moves a job to `target` with `record` (durably), then publishes it.
  @discardableResult
  public func move(_ job: Job, to target: JobState, record: JobRecord) throws -> Job {
    var record = record
    record.updatedAt = .now()
    let moved = try spool.move(job, to: target, record: record)
    jobs[moved.id] = moved
    try outbox.publish(moved)
    indexDirty = true
    return moved
  }

  /// Stores and publishes a job's record without changing its state (progress).
  public func update(_ job: Job) throws {
    var job = job
    job.record.updatedAt = .now()
    try spool.update(job)
    jobs[job.id] = job
    try outbox.publish(job)
    indexDirty = true
  }

  /// Removes finished jobs created more than the outbox's TTL before `now`; returns how many.
  @discardableResult
  public func expire(now: Timestamp) throws -> Int {
    let cutoff = now.adding(seconds: -outbox.ttl)
    var removed = 0
    for job in jobs.values where job.state.isFinal && job.record.createdAt <= cutoff {
      try outbox.remove(id: job.id)
      try spool.remove(job)
      jobs[job.id] = nil
      removed += 1
      logger.info("job expired", metadata: ["job.id": "\(job.id)"])
    }
    if removed > 0 { indexDirty = true }
    return removed
  }

  /// Renders `index.json` if anything changed and the last render is at least ``indexInterval`` old
  /// (or `force`).
  public func publishIndex(force: Bool = false) throws {
    guard indexDirty else { return }
    let now = Timestamp.now()
    guard force || now.milliseconds - lastIndex.milliseconds >= indexInterval else { return }
    try outbox.publishIndex()
    indexDirty = false
    lastIndex = now
  }
}
