import FoundationEssentials
import JobdropModel
import JobdropPostgres
import JobdropSystem

/// Making jobs: a request's claim, and a node's claim of the next pending job.
extension PostgresSpool {
  /// A partner's limit of jobs in progress, checked by the claim itself (``claim(_:)``).
  public struct PartnerLimit: Sendable {
    public var maximum: Int
    /// The error of a request past the limit.
    public var error: String

    public init(maximum: Int, error: String) {
      self.maximum = maximum
      self.error = error
    }
  }

  /// A request to make a job of: its record, state (`pending`, or `failed` when it was refused), the
  /// request's bytes, and its partner's limit of jobs in progress.
  public struct Claim: Sendable {
    public var record: JobRecord
    public var state: JobState
    public var bytes: [UInt8]
    public var limit: PartnerLimit?

    public init(record: JobRecord, state: JobState, bytes: [UInt8], limit: PartnerLimit? = nil) {
      self.record = record
      self.state = state
      self.bytes = bytes
      self.limit = limit
    }
  }

  /// Makes each claim a new job in one transaction; returns the jobs as made. A pending claim whose
  /// partner already has its limit of jobs pending or started, counted across every node under a lock
  /// of that partner's, is made `failed` with the limit's error instead: the limit holds however many
  /// nodes claim at once.
  @discardableResult
  public func claim(_ claims: [Claim]) throws -> [Job] {
    guard !claims.isEmpty else { return [] }
    return try withConnection { connection in
      try connection.transaction(begin: beginChange) { () throws -> [Job] in
        // Partners locked in one order, so two nodes' claims never wait on each other in a circle.
        let limited = Set(claims.compactMap { $0.limit == nil ? nil : $0.record.partner }).sorted()
        for partner in limited {
          try connection.execute(
            "SELECT pg_advisory_xact_lock(\(PostgresSpool.partnerLockKey), hashtext($1))", [.text(partner)])
        }
        var made: [Job] = []
        for claim in claims {
          precondition(claim.state == .pending || claim.state == .failed)
          var record = claim.record
          var state = claim.state
          if state == .pending, let limit = claim.limit, let partner = record.partner {
            let live = try connection.execute(
              "SELECT count(*) FROM jobdrop_jobs WHERE partner = $1 AND state IN ('pending', 'started')",
              [.text(partner)])
            if (live.integer(0, 0) ?? 0) >= Int64(limit.maximum) {
              record.error = limit.error
              state = .failed
            }
          }
          try connection.execute(
            prepared: """
              INSERT INTO jobdrop_jobs (id, partner, state, record, request, created_at, change, writer)
              VALUES ($1, $2, $3, $4, decode($5, 'base64'), $6, nextval('jobdrop_change'),
                current_setting('jobdrop.writer'))
              """,
            [
              .text(record.id), record.partner.map(SQLValue.text) ?? .null, .text(state.rawValue),
              .text(PostgresSpool.encode(record)), .text(Data(claim.bytes).base64EncodedString()),
              .integer(record.createdAt.milliseconds),
            ])
          made.append(Job(record: record, state: state))
        }
        return made
      }
    }
  }

  /// Claims the pending job due by `now` whose partner has the fewest started jobs (then the oldest),
  /// skipping rows other nodes are claiming, and moves it to `started` with `change` applied to its record,
  /// holding a lease of ``leaseSeconds``; `nil` when no job is due.
  ///
  /// Without `durable` (a job started inside a group of outcomes) the claim is one statement, sent with
  /// its transaction in one round trip, and the row keeps the pending record: the started one is
  /// written at the job's first progress or with its outcome. A node killed before then leaves the
  /// job's record one attempt short, as the file spool does (``JobStore/startNextPending(durable:)``).
  public func claimNext(now: Timestamp, durable: Bool = true, change modify: (JobRecord) -> JobRecord)
    throws -> Job?
  {
    try withConnection { connection in
      guard durable else { return try claimNextInOneTrip(connection, now: now, change: modify) }
      // A start need not wait for the disk (as with the file spool inside a group): if the server
      // loses it in a crash, the job is pending again and runs again, and this node's result is
      // refused (its token no longer matches a started row).
      return try connection.transaction(begin: "BEGIN; SET LOCAL synchronous_commit = off") {
        () throws -> Job? in
        let found = try connection.execute(
          "SELECT j.id, j.record FROM \(PostgresSpool.nextPending)", [.integer(now.milliseconds)])
        guard found.count == 1, let id = found.text(0, 0), let text = found.text(0, 1) else { return nil }
        let record = modify(try PostgresSpool.decode(text))
        // The change announced by the statement that makes it (delivered at commit).
        let moved = try connection.execute(
          """
          WITH moved AS (
            UPDATE jobdrop_jobs SET record = $2, \(PostgresSpool.startColumns(node: 3))
            WHERE id = $1 RETURNING fence)
          SELECT fence, pg_notify('\(PostgresSpool.channel)', $5) FROM moved
          """,
          [
            .text(id), .text(PostgresSpool.encode(record)), .text(node), .integer(Int64(leaseSeconds)),
            .text(writer),
          ])
        guard let fence = moved.integer(0, 0) else { return nil }
        fences.withLock { $0[id] = fence }
        return Job(record: record, state: .started)
      }
    }
  }

  /// The claim of a job started inside a group: pick and move in one statement, its transaction
  /// (committed without waiting for the disk) sent in the same round trip. It is not announced: other
  /// nodes read it with the next change they are woken for (most often the job's outcome), as the file
  /// spool shows such a start only at its first progress.
  private func claimNextInOneTrip(
    _ connection: PostgresConnection, now: Timestamp, change modify: (JobRecord) -> JobRecord
  ) throws -> Job? {
    let results = try connection.pipeline([
      ("BEGIN", []), ("SET LOCAL synchronous_commit = off", []),
      (
        """
        WITH picked AS (SELECT j.id FROM \(PostgresSpool.nextPending))
        UPDATE jobdrop_jobs j SET \(PostgresSpool.startColumns(node: 2))
        FROM picked WHERE j.id = picked.id RETURNING j.id, j.record, j.fence
        """,
        [.integer(now.milliseconds), .text(node), .integer(Int64(leaseSeconds))]
      ),
      ("COMMIT", []),
    ])
    let moved = results[2]
    guard moved.count == 1, let id = moved.text(0, 0), let text = moved.text(0, 1),
      let fence = moved.integer(0, 2)
    else { return nil }
    fences.withLock { $0[id] = fence }
    return Job(record: modify(try PostgresSpool.decode(text)), state: .started)
  }

  /// `FROM` and the rest of the query for the pending job to start next (`$1`: now, in milliseconds),
  /// locked: each partner's started jobs are counted once (not once per pending row: a burst's dead
  /// index entries made that a scan per row).
  static let nextPending = """
    jobdrop_jobs j
    LEFT JOIN (SELECT partner, count(*) AS n FROM jobdrop_jobs WHERE state = 'started' GROUP BY partner) s
      ON s.partner IS NOT DISTINCT FROM j.partner
    WHERE j.state = 'pending' AND (j.retry_at IS NULL OR j.retry_at <= $1)
    ORDER BY coalesce(s.n, 0), j.created_at, j.id
    LIMIT 1 FOR UPDATE OF j SKIP LOCKED
    """

  /// What a start sets besides the record (parameter `node`: the node, the one after it: the lease in
  /// seconds).
  static func startColumns(node: Int) -> String {
    """
    state = 'started', retry_at = NULL, node = $\(node), lease_until = now() + make_interval(secs => $\(node + 1)),
      fence = fence + 1, cancel_requested = false, txid = pg_current_xact_id(),
      writer = current_setting('jobdrop.writer'), change = nextval('jobdrop_change')
    """
  }
}
