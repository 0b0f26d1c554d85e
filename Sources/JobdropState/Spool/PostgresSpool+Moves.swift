import FoundationEssentials
import JobdropModel
import JobdropPostgres
import JobdropSystem

/// Moving jobs between states, fenced by the lease of the node that started them.
extension PostgresSpool {
  /// Moves `job` to `target` with `record`. A move out of `started` is made only while this node holds
  /// the job's lease with the token it claimed it with; otherwise (the lease lapsed and the job was
  /// claimed again, or cancelled meanwhile) it throws ``LeaseLost`` and changes nothing.
  @discardableResult
  public func move(_ job: Job, to target: JobState, record: JobRecord) throws -> Job {
    guard job.state.canMove(to: target) else {
      throw IllegalTransition(id: job.id, from: job.state, to: target)
    }
    try withConnection { connection in
      try connection.transaction(begin: beginChange) {
        let result = try connection.execute(
          prepared: PostgresSpool.moveStatement,
          [
            .text(job.id), .text(job.state.rawValue), .text(target.rawValue),
            .text(PostgresSpool.encode(record)),
            record.retryAt.map { .integer($0.milliseconds) } ?? .null,
            .text(node), .integer(fence(of: job)),
          ])
        if result.changed != 1 { throw LeaseLost(id: job.id, node: node) }
      }
    }
    if job.state == .started { fences.withLock { $0[job.id] = nil } }
    return Job(record: record, state: target)
  }

  /// Makes several moves in one transaction (a group of outcomes: one commit, one flush of the server's
  /// log), each fenced as ``move(_:to:record:)`` is; returns each moved job, or `nil` for one whose lease
  /// this node lost (that move is not made; the others are).
  public func moveAll(_ moves: [(job: Job, target: JobState, record: JobRecord)]) throws -> [Job?] {
    for move in moves where !move.job.state.canMove(to: move.target) {
      throw IllegalTransition(id: move.job.id, from: move.job.state, to: move.target)
    }
    let moved = try withConnection { connection in
      try connection.transaction(begin: beginChange) { () throws -> [Job?] in
        return try moves.map { move -> Job? in
          let result = try connection.execute(
            prepared: PostgresSpool.moveStatement,
            [
              .text(move.job.id), .text(move.job.state.rawValue), .text(move.target.rawValue),
              .text(PostgresSpool.encode(move.record)),
              move.record.retryAt.map { .integer($0.milliseconds) } ?? .null,
              .text(node), .integer(fence(of: move.job)),
            ])
          return result.changed == 1 ? Job(record: move.record, state: move.target) : nil
        }
      }
    }
    fences.withLock { for move in moves where move.job.state == .started { $0[move.job.id] = nil } }
    return moved
  }

  /// A fenced move: `$1` id, `$2` from, `$3` to, `$4` record, `$5` retry time, `$6` node, `$7` token.
  static let moveStatement = """
    UPDATE jobdrop_jobs SET state = $3, record = $4, retry_at = $5, node = NULL, lease_until = NULL,
      txid = pg_current_xact_id(), writer = current_setting('jobdrop.writer'), change = nextval('jobdrop_change')
    WHERE id = $1 AND state = $2 AND ($2 <> 'started' OR (node = $6 AND fence = $7))
    """

  /// Stores a job's record in its state (progress, an alias, a webhook's status); for a started job
  /// only while this node holds its lease, which the write renews. Returns whether its partner asked to
  /// cancel it meanwhile (``requestCancel(id:)``).
  @discardableResult
  public func update(_ job: Job) throws -> Bool {
    try withConnection { connection in
      try connection.transaction(begin: beginChange) {
        let result = try connection.execute(
          prepared: """
            UPDATE jobdrop_jobs SET record = $3, txid = pg_current_xact_id(), writer = current_setting('jobdrop.writer'), change = nextval('jobdrop_change'),
              lease_until = CASE WHEN state = 'started' THEN now() + make_interval(secs => $6) END
            WHERE id = $1 AND state = $2 AND ($2 <> 'started' OR (node = $4 AND fence = $5))
            RETURNING cancel_requested
            """,
          [
            .text(job.id), .text(job.state.rawValue), .text(PostgresSpool.encode(job.record)),
            .text(node), .integer(fence(of: job)), .integer(Int64(leaseSeconds)),
          ])
        guard result.count == 1 else { throw LeaseLost(id: job.id, node: node) }
        return result.text(0, 0) == "t"
      }
    }
  }

  func fence(of job: Job) -> Int64 { fences.withLock { $0[job.id] } ?? -1 }

  /// Asks the node running the started job `id` to stop it: a change every node reads
  /// (``changes(after:limit:)`` lists it as cancelled), so the node running it interrupts its query.
  public func requestCancel(id: String) throws {
    _ = try withConnection { connection in
      try connection.transaction(begin: beginChange) {
        try connection.execute(
          """
          UPDATE jobdrop_jobs SET cancel_requested = true, txid = pg_current_xact_id(), writer = current_setting('jobdrop.writer'),
            change = nextval('jobdrop_change')
          WHERE id = $1 AND state = 'started'
          """, [.text(id)])
      }
    }
  }

  /// Forgets a finished job (expiry); nothing when another node did it first.
  public func remove(_ id: String) throws {
    _ = try withConnection { connection in
      try connection.execute(
        "DELETE FROM jobdrop_jobs WHERE id = $1 AND state IN ('success', 'failed')", [.text(id)])
    }
  }

  /// Extends the leases of every job this node runs; call well within ``leaseSeconds``.
  public func renewLeases() throws {
    _ = try withConnection { connection in
      try connection.execute(
        """
        UPDATE jobdrop_jobs SET lease_until = now() + make_interval(secs => $2)
        WHERE state = 'started' AND node = $1
        """, [.text(node), .integer(Int64(leaseSeconds))])
    }
  }

  /// Sends back to `pending` the started jobs whose lease lapsed (a node that died or lost the database),
  /// and — at a node's start — those this node's name held before (``reclaimOwn``: they were cut short).
  /// Returns them.
  @discardableResult
  public func reapLapsedLeases(now: Timestamp, reclaimOwn: Bool = false) throws -> [Job] {
    try withConnection { connection in
      try connection.transaction { () throws -> [Job] in
        let found = try connection.execute(
          """
          SELECT id, record, cancel_requested FROM jobdrop_jobs
          WHERE state = 'started' AND (lease_until < now() OR ($1 AND node = $2))
          FOR UPDATE SKIP LOCKED
          """, [.text(reclaimOwn ? "true" : "false"), .text(node)])
        guard found.count > 0 else { return [] }
        try connection.execute("SELECT pg_notify('\(PostgresSpool.channel)', '\(writer)')")
        var reaped: [Job] = []
        for row in 0..<found.count {
          guard let id = found.text(row, 0), let text = found.text(row, 1) else { continue }
          var job = Job(record: try PostgresSpool.decode(text), state: .started)
          // A job its partner was answered `cancelled` for fails as cancelled instead of running again.
          if found.text(row, 2) == "t" { job.record.cancelRequested = true }
          var (state, record) = JobTransitions.afterCrash(job)
          record.updatedAt = now
          try connection.execute(
            """
            UPDATE jobdrop_jobs SET state = $3, record = $2, node = NULL, lease_until = NULL,
              fence = fence + 1, txid = pg_current_xact_id(), writer = current_setting('jobdrop.writer'), change = nextval('jobdrop_change')
            WHERE id = $1
            """, [.text(id), .text(PostgresSpool.encode(record)), .text(state.rawValue)])
          reaped.append(Job(record: record, state: state))
        }
        return reaped
      }
    }
  }
}

/// A move or write refused because this node no longer holds the job's lease: it lapsed and the job was
/// sent back to `pending` (and maybe claimed by another node), or the job left `started` otherwise.
public struct LeaseLost: Error, Sendable, CustomStringConvertible {
  public var id: String
  public var node: String
  public var description: String {
    "job \(id): node \(node) no longer holds its lease; its result is not recorded"
  }
}
