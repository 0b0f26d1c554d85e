import FoundationEssentials
import JobdropExport
import JobdropModel
import JobdropPostgres
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The job table in PostgreSQL (`--spool postgres://…`): the spool several nodes share.
///
/// One row per job in `jobdrop_jobs`: its state (the same ``JobState`` and legal moves as the file spool),
/// its record (the JSON a status file holds), the request's bytes, and who runs it. A node claims the
/// next pending job with `FOR UPDATE SKIP LOCKED` (the partner with the fewest started jobs first, then
/// the oldest), holding a lease it renews while the job runs; every claim bumps the row's fencing token,
/// and a move out of `started` is made only by the node holding the lease with that token, in the same
/// `UPDATE` (``LeaseLost`` otherwise): a node whose lease lapsed cannot publish a result, and no job
/// reaches `success` twice. Lapsed leases are reaped by any node (``reapLapsedLeases(now:)``).
///
/// Every change stamps the row with its transaction's id and sends `NOTIFY jobdrop`: a node follows the
/// table by reading the rows written by transactions that have ended since its last read
/// (``changes(after:limit:)``: the ids below the oldest still running, so a transaction that commits
/// late is never skipped), woken at once by the notification. No write waits for another's lock
/// but on the rows it changes, so claims run side by side (`SKIP LOCKED`).
// @unchecked: the connection is used under `lock` only; `fences` too. (A Mutex cannot hand a
// non-Sendable libpq connection out to the calls that use it under the lock.)
public final class PostgresSpool: @unchecked Sendable {
  /// `host:port/database`, for messages (never the password).
  public let database: String
  /// This node's name in the table (who holds a lease).
  public let node: String
  /// How long a claim holds without renewal, in seconds.
  public let leaseSeconds: Int
  /// The table's format before this process opened it (``format`` when it needed nothing; 0: new).
  public private(set) var migratedFrom = PostgresSpool.format
  private let conninfo: String
  private var connection: PostgresConnection?
  private let lock = ConditionLock()
  /// The fencing token of each job this node started.
  private var fences: [String: Int64] = [:]
  /// The follower's connection, which listens for changes and holds the index lock; its thread only.
  private var listener: PostgresConnection?
  private var indexLockHeld = false
  /// The channel changes are announced on.
  public static let channel = "jobdrop"
  /// The advisory locks: one held by a transaction that creates the table, one (a session lock) by the
  /// node that renders the index.
  static let schemaLockKey: Int64 = 0x6a6f_6264_0001
  static let indexLockKey: Int64 = 0x6a6f_6264_0002
  /// The first key of a partner's claim lock (two-key advisory lock: this, the partner's hash).
  static let partnerLockKey: Int32 = 0x6a64_7001

  /// Connects and creates the table when it is missing (unless `reading`: `jobdrop status` changes
  /// nothing).
  public init(url: String, node: String, leaseSeconds: Int, reading: Bool = false) throws {
    conninfo = url
    database = PostgresSpool.describe(url)
    self.node = node
    self.leaseSeconds = leaseSeconds
    if reading {
      try checkFormat()
      return
    }
    let version = try withConnection { connection in
      try connection.transaction {
        try connection.execute("SET LOCAL client_min_messages = warning")
        try connection.execute("SELECT pg_advisory_xact_lock(\(PostgresSpool.schemaLockKey))")
        return try PostgresSpool.migrate(connection)
      }
    }
    migratedFrom = version
  }

  static let schema = """
    CREATE SEQUENCE IF NOT EXISTS jobdrop_change;
    CREATE TABLE IF NOT EXISTS jobdrop_jobs (
      id text PRIMARY KEY,
      partner text,
      state text NOT NULL CHECK (state IN ('pending', 'started', 'success', 'failed')),
      record text NOT NULL,
      request bytea NOT NULL,
      created_at bigint NOT NULL,
      retry_at bigint,
      node text,
      lease_until timestamptz,
      fence bigint NOT NULL DEFAULT 0,
      cancel_requested boolean NOT NULL DEFAULT false,
      txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      change bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS jobdrop_jobs_pending ON jobdrop_jobs (created_at) WHERE state = 'pending';
    CREATE INDEX IF NOT EXISTS jobdrop_jobs_started ON jobdrop_jobs (partner) WHERE state = 'started';
    CREATE INDEX IF NOT EXISTS jobdrop_jobs_txid ON jobdrop_jobs (txid, id);
    """

  /// `host:port/database` of a `postgres://` URL, without user or password.
  public static func describe(_ url: String) -> String {
    var rest = Substring(url)
    if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
    if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
    if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
    return String(rest)
  }

  /// Runs `body` with the connection (made again after one was lost), under the lock. A transaction
  /// the server chose to abort (a deadlock, a serialization failure) is run again, up to three times,
  /// then reported as transient: the caller retries later, the daemon goes on.
  func withConnection<R>(_ body: (PostgresConnection) throws -> R) throws -> R {
    try lock.withLock {
      var attempt = 0
      while true {
        attempt += 1
        let current: PostgresConnection
        if let connection, connection.isHealthy {
          current = connection
        } else {
          connection = nil
          current = try PostgresConnection(conninfo: conninfo, database: database)
          connection = current
        }
        do {
          return try body(current)
        } catch var error as PostgresError where ["40P01", "40001"].contains(error.sqlState ?? "") {
          if attempt < 3 { continue }
          error.isTransient = true
          throw error
        } catch let error as PostgresError where error.isTransient {
          connection = nil
          throw error
        }
      }
    }
  }

  /// Inside a write transaction: announces its change (delivered at commit).
  private static func change(_ connection: PostgresConnection) throws {
    try connection.execute("SELECT pg_notify('\(channel)', '')")
  }

  // MARK: Writing

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
      try connection.transaction { () throws -> [Job] in
        try PostgresSpool.change(connection)
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
            """
            INSERT INTO jobdrop_jobs (id, partner, state, record, request, created_at, change)
            VALUES ($1, $2, $3, $4, decode($5, 'base64'), $6, nextval('jobdrop_change'))
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
  public func claimNext(now: Timestamp, change modify: (JobRecord) -> JobRecord) throws -> Job? {
    try withConnection { connection in
      try connection.transaction { () throws -> Job? in
        let found = try connection.execute(
          """
          SELECT j.id, j.record FROM jobdrop_jobs j
          WHERE j.state = 'pending' AND (j.retry_at IS NULL OR j.retry_at <= $1)
          ORDER BY (SELECT count(*) FROM jobdrop_jobs s
                    WHERE s.state = 'started' AND s.partner IS NOT DISTINCT FROM j.partner),
                   j.created_at, j.id
          LIMIT 1 FOR UPDATE OF j SKIP LOCKED
          """, [.integer(now.milliseconds)])
        guard found.count == 1, let id = found.text(0, 0), let text = found.text(0, 1) else { return nil }
        // A start need not wait for the disk (as with the file spool inside a group): if the server
        // loses it in a crash, the job is pending again and runs again, and this node's result is
        // refused (its token no longer matches a started row).
        try connection.execute("SET LOCAL synchronous_commit = off")
        let record = modify(try PostgresSpool.decode(text))
        try PostgresSpool.change(connection)
        let moved = try connection.execute(
          """
          UPDATE jobdrop_jobs SET state = 'started', record = $2, retry_at = NULL, node = $3,
            lease_until = now() + make_interval(secs => $4), fence = fence + 1,
            cancel_requested = false, txid = pg_current_xact_id(), change = nextval('jobdrop_change')
          WHERE id = $1 RETURNING fence
          """,
          [.text(id), .text(PostgresSpool.encode(record)), .text(node), .integer(Int64(leaseSeconds))])
        guard let fence = moved.integer(0, 0) else { return nil }
        fences[id] = fence
        return Job(record: record, state: .started)
      }
    }
  }

  /// Moves `job` to `target` with `record`. A move out of `started` is made only while this node holds
  /// the job's lease with the token it claimed it with; otherwise (the lease lapsed and the job was
  /// claimed again, or cancelled meanwhile) it throws ``LeaseLost`` and changes nothing.
  @discardableResult
  public func move(_ job: Job, to target: JobState, record: JobRecord) throws -> Job {
    guard job.state.canMove(to: target) else {
      throw IllegalTransition(id: job.id, from: job.state, to: target)
    }
    try withConnection { connection in
      try connection.transaction {
        try PostgresSpool.change(connection)
        let result = try connection.execute(
          PostgresSpool.moveStatement,
          [
            .text(job.id), .text(job.state.rawValue), .text(target.rawValue),
            .text(PostgresSpool.encode(record)),
            record.retryAt.map { .integer($0.milliseconds) } ?? .null,
            .text(node), .integer(fence(of: job)),
          ])
        if result.changed != 1 { throw LeaseLost(id: job.id, node: node) }
      }
    }
    if job.state == .started { lock.withLock { fences[job.id] = nil } }
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
      try connection.transaction { () throws -> [Job?] in
        try PostgresSpool.change(connection)
        return try moves.map { move -> Job? in
          let result = try connection.execute(
            PostgresSpool.moveStatement,
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
    lock.withLock { for move in moves where move.job.state == .started { fences[move.job.id] = nil } }
    return moved
  }

  /// A fenced move: `$1` id, `$2` from, `$3` to, `$4` record, `$5` retry time, `$6` node, `$7` token.
  static let moveStatement = """
    UPDATE jobdrop_jobs SET state = $3, record = $4, retry_at = $5, node = NULL, lease_until = NULL,
      txid = pg_current_xact_id(), change = nextval('jobdrop_change')
    WHERE id = $1 AND state = $2 AND ($2 <> 'started' OR (node = $6 AND fence = $7))
    """

  /// Stores a job's record in its state (progress, an alias, a webhook's status); for a started job
  /// only while this node holds its lease, which the write renews. Returns whether its partner asked to
  /// cancel it meanwhile (``requestCancel(id:)``).
  @discardableResult
  public func update(_ job: Job) throws -> Bool {
    try withConnection { connection in
      try connection.transaction {
        try PostgresSpool.change(connection)
        let result = try connection.execute(
          """
          UPDATE jobdrop_jobs SET record = $3, txid = pg_current_xact_id(), change = nextval('jobdrop_change'),
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

  private func fence(of job: Job) -> Int64 { fences[job.id] ?? -1 }

  /// Asks the node running the started job `id` to stop it: a change every node reads
  /// (``changes(after:limit:)`` lists it as cancelled), so the node running it interrupts its query.
  public func requestCancel(id: String) throws {
    try withConnection { connection in
      try connection.transaction {
        try PostgresSpool.change(connection)
        try connection.execute(
          """
          UPDATE jobdrop_jobs SET cancel_requested = true, txid = pg_current_xact_id(),
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
        try PostgresSpool.change(connection)
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
              fence = fence + 1, txid = pg_current_xact_id(), change = nextval('jobdrop_change')
            WHERE id = $1
            """, [.text(id), .text(PostgresSpool.encode(record)), .text(state.rawValue)])
          reaped.append(Job(record: record, state: state))
        }
        return reaped
      }
    }
  }

  // MARK: Following

  /// Waits up to `milliseconds` for another change to be announced (on a connection of its own, which
  /// listens); returns whether one was. Call from one thread only (the node's follower).
  public func waitForChange(milliseconds: Int32) throws -> Bool {
    let listener = try listening()
    if try !listener.notifications().isEmpty { return true }
    var descriptor = pollfd(fd: listener.socket, events: Int16(POLLIN), revents: 0)
    guard poll(&descriptor, 1, milliseconds) > 0 else { return false }
    do {
      return try !listener.notifications().isEmpty
    } catch {
      self.listener = nil
      throw error
    }
  }

  /// Whether this node is the one that renders the index: it holds the session advisory lock, taken on
  /// the listening connection when no other node holds it, and lost with that connection.
  public func holdsIndexLock() -> Bool {
    if indexLockHeld, listener?.isHealthy == true { return true }
    guard let listener = try? listening(),
      let result = try? listener.execute("SELECT pg_try_advisory_lock(\(PostgresSpool.indexLockKey))")
    else { return false }
    indexLockHeld = result.text(0, 0) == "t"
    return indexLockHeld
  }

  /// The listening connection (made again after one was lost: a change may have been missed, which the
  /// follower's reading of changes after its last one covers).
  private func listening() throws -> PostgresConnection {
    if let listener, listener.isHealthy { return listener }
    listener = nil
    indexLockHeld = false
    let made = try PostgresConnection(conninfo: conninfo, database: database)
    try made.execute("LISTEN \(PostgresSpool.channel)")
    listener = made
    return made
  }

  // MARK: Reading

  /// The job `id` as the table has it now.
  public func job(id: String) throws -> Job? {
    try withConnection { connection in
      let result = try connection.execute(
        "SELECT state, record FROM jobdrop_jobs WHERE id = $1", [.text(id)])
      return try PostgresSpool.jobs(in: result).first
    }
  }

  /// The request's bytes as dropped.
  public func requestBytes(of id: String) throws -> [UInt8]? {
    try withConnection { connection in
      let result = try connection.execute(
        "SELECT encode(request, 'base64') FROM jobdrop_jobs WHERE id = $1", [.text(id)])
      return result.text(0, 0).flatMap { Data(base64Encoded: $0, options: .ignoreUnknownCharacters) }
        .map { Array($0) }
    }
  }

  /// Where a follower has read the table up to: every row written by a transaction before `txid` (and
  /// those of `txid` up to `id`, when a read stopped at its limit).
  public struct FeedPosition: Sendable, Equatable {
    public var txid: Int64
    public var id: String
    /// Before every row.
    public static let start = FeedPosition(txid: 0, id: "")
  }

  /// The jobs as they are now whose rows were written after `position` by transactions that have ended
  /// (at most `limit`), the ids among them whose partner asked to cancel them while started, and the
  /// position to read from next. Every transaction with an id below the
  /// oldest one still running has ended, so a row it wrote is read once it is visible, whatever order
  /// transactions commit in.
  public func changes(after position: FeedPosition, limit: Int = 1000) throws -> (
    jobs: [Job], cancelled: Set<String>, next: FeedPosition
  ) {
    try withConnection { connection in
      let result = try connection.execute(
        """
        SELECT j.state, j.record, j.txid::text, j.id, h.horizon::text, j.cancel_requested
        FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon) h
        LEFT JOIN jobdrop_jobs j ON (j.txid, j.id) > ($1::text::xid8, $2) AND j.txid < h.horizon
        ORDER BY j.txid, j.id LIMIT $3
        """, [.integer(position.txid), .text(position.id), .integer(Int64(limit))])
      let jobs = try PostgresSpool.jobs(in: result)
      let cancelled = Set(
        (0..<result.count).compactMap { row in result.text(row, 5) == "t" ? result.text(row, 3) : nil })
      let last = result.count - 1
      if jobs.count == limit, let txid = result.integer(last, 2), let id = result.text(last, 3) {
        return (jobs, cancelled, FeedPosition(txid: txid, id: id))
      }
      return (jobs, cancelled, FeedPosition(txid: result.integer(0, 4) ?? position.txid, id: ""))
    }
  }

  /// The newest job claimed from a request file named `file` (of `partner`) created at `since` or later.
  public func claimed(file: String, partner: String?, since: Timestamp) throws -> Job? {
    try withConnection { connection in
      let result = try connection.execute(
        """
        SELECT state, record FROM jobdrop_jobs
        WHERE created_at >= $1 AND partner IS NOT DISTINCT FROM $2 AND record::json->>'requestFile' = $3
        ORDER BY created_at DESC LIMIT 1
        """, [.integer(since.milliseconds), partner.map(SQLValue.text) ?? .null, .text(file)])
      return try PostgresSpool.jobs(in: result).first
    }
  }

  /// Every job now, with the node running each started one (what `jobdrop status` lists).
  public func all() throws -> [(job: Job, node: String?)] {
    try withConnection { connection in
      let result = try connection.execute("SELECT state, record, node FROM jobdrop_jobs")
      return try (0..<result.count).compactMap { row in
        try PostgresSpool.job(in: result, row: row).map { ($0, result.text(row, 2)) }
      }
    }
  }

  /// Every job now: how many, and the number of the last change (what `jobdrop status --watch` redraws
  /// on).
  public func version() throws -> [Int64] {
    try withConnection { connection in
      let result = try connection.execute("SELECT count(*), coalesce(max(change), 0) FROM jobdrop_jobs")
      return [result.integer(0, 0) ?? 0, result.integer(0, 1) ?? 0]
    }
  }

  /// The rows of a result whose first two columns are `state, record`, as jobs (a row with no job,
  /// NULLs, left out).
  private static func jobs(in result: PostgresResult) throws -> [Job] {
    try (0..<result.count).compactMap { try job(in: result, row: $0) }
  }

  /// Row `row` of a result whose first two columns are `state, record`, as a job.
  private static func job(in result: PostgresResult, row: Int) throws -> Job? {
    guard let state = result.text(row, 0).flatMap(JobState.init(rawValue:)), let text = result.text(row, 1)
    else { return nil }
    return Job(record: try decode(text), state: state)
  }

  static func encode(_ record: JobRecord) -> String {
    String(decoding: Spool.encode(record), as: UTF8.self)
  }

  static func decode(_ text: String) throws -> JobRecord {
    try JSONDecoder().decode(JobRecord.self, from: Data(text.utf8))
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
