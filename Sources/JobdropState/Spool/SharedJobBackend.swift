import JobdropSystem
import Synchronization

/// Jobs kept in a PostgreSQL table several nodes share (``PostgresSpool``, `--spool postgres://…`);
/// this node's local spool keeps what is its own (retiring inbox files, webhook events).
public final class SharedJobBackend: JobBackend {
  public let table: PostgresSpool
  /// How far the table's changes have been read (``changes()``).
  private let position = Mutex(PostgresSpool.FeedPosition.start)

  public init(table: PostgresSpool) { self.table = table }

  public var node: String? { table.node }
  public var picksNextJob: Bool { true }
  public var isShared: Bool { true }

  public func recover(
    _ lock: SpoolLock, inbox: Inbox, now: Timestamp, each: (_ job: Job, _ cutShort: Bool) throws -> Void
  ) throws -> Spool.Recovery {
    // This node's jobs left started by its previous run were cut short; other nodes' are theirs.
    let reaped = Set(try table.reapLapsedLeases(now: now, reclaimOwn: true).map(\.id))
    while true {
      let (jobs, _) = try changes()
      for job in jobs { try each(job, reaped.contains(job.id)) }
      if jobs.isEmpty { return Spool.Recovery() }
    }
  }

  public func claim(_ claim: PostgresSpool.Claim) throws -> Job {
    try table.claim([claim]).first ?? Job(record: claim.record, state: claim.state)
  }

  public func stage(_ claim: PostgresSpool.Claim, into group: ClaimGroup) throws { group.rows.append(claim) }

  public func commitClaims(_ group: ClaimGroup) throws -> [String: Job] {
    // One transaction: all or none; a claim past its partner's limit comes back failed.
    Dictionary(try table.claim(group.rows).map { ($0.id, $0) }) { first, _ in first }
  }

  public func discardClaims(_ group: ClaimGroup) {}  // the transaction left nothing

  public func claimNext(now: Timestamp, durable: Bool, modify: (JobRecord) -> JobRecord) throws -> Job? {
    try table.claimNext(now: now, durable: durable, change: modify)
  }

  public func move(_ job: Job, to target: JobState, record: JobRecord, durable: Bool) throws -> Job {
    try table.move(job, to: target, record: record)
  }

  public func commitMoves(
    _ moves: [(job: Job, target: JobState, record: JobRecord)], alsoFlush: [UnsyncedFile]
  ) throws -> [Job?] {
    // The export files first, then every outcome in one transaction.
    try GroupWrite.flush(alsoFlush)
    return try table.moveAll(moves)
  }

  public func update(_ job: Job) throws -> Bool { try table.update(job) }
  public func retire(_ id: String, from state: JobState) {}
  public func requestCancel(_ job: Job) throws { try table.requestCancel(id: job.id) }
  public func job(id: String, state: JobState) -> Job? { try? table.job(id: id) }
  public func remove(_ id: String, in state: JobState) throws { try table.remove(id) }

  public func changes() throws -> (jobs: [Job], cancelled: Set<String>) {
    let after = position.withLock { $0 }
    let (jobs, cancelled, next) = try table.changes(after: after)
    position.withLock { $0 = next }
    return (jobs, cancelled)
  }

  public func everyJob(_ each: (Job) -> Void) throws {
    var from = PostgresSpool.FeedPosition.start
    while true {
      let (jobs, _, next) = try table.changes(after: from, all: true)
      if jobs.isEmpty { return }
      jobs.forEach(each)
      from = next
    }
  }

  public func holdsIndexLock() -> Bool { table.holdsIndexLock() }
  public func reapLapsedLeases(now: Timestamp) throws -> [Job] { try table.reapLapsedLeases(now: now) }
}
