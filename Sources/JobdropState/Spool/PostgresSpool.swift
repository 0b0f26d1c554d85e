import FoundationEssentials
import JobdropExport
import JobdropModel
import JobdropPostgres
import JobdropSystem
import Synchronization

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
///
/// Each call takes a connection of its own from a small pool (``withConnection(_:)``): a group commit
/// waiting for the server's disk does not hold up a claim on another thread.
// @unchecked: the idle connections are touched under `lock` only, and a connection is used by one call
// at a time (a Mutex cannot hand a non-Sendable libpq connection out); `fences` is a Mutex.
public final class PostgresSpool: @unchecked Sendable {
  /// `host:port/database`, for messages (never the password).
  public let database: String
  /// This node's name in the table (who holds a lease).
  public let node: String
  /// How long a claim holds without renewal, in seconds.
  public let leaseSeconds: Int
  /// The table's format before this process opened it (``format`` when it needed nothing; 0: new).
  public private(set) var migratedFrom = PostgresSpool.format
  let conninfo: String
  /// Connections no call is using now.
  private var idle: [PostgresConnection] = []
  private let lock = ConditionLock()
  /// The fencing token of each job this node started.
  let fences = Mutex<[String: Int64]>([:])
  /// The follower's connection, which listens for changes and holds the index lock; its thread only.
  var listener: PostgresConnection?
  var indexLockHeld = false
  /// The channel changes are announced on.
  public static let channel = "jobdrop"
  /// This process's mark on the changes it makes: the payload of their notifications and the `writer`
  /// of the rows they write. Its own follower passes over both (what this process wrote it has already
  /// applied), other nodes and commands wake on them and read them.
  let writer = String(UInt64.random(in: 1...UInt64.max), radix: 16)
  /// The start of a write transaction, its change announced (delivered at commit) in the same round trip.
  var beginChange: String { "BEGIN; SELECT pg_notify('\(PostgresSpool.channel)', '\(writer)')" }
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

  /// Runs `body` with a connection no other call is using (an idle one, or one made now; one that was
  /// lost is dropped). A transaction the server chose to abort (a deadlock, a serialization failure) is
  /// run again, up to three times, then reported as transient: the caller retries later, the daemon
  /// goes on.
  func withConnection<R>(_ body: (PostgresConnection) throws -> R) throws -> R {
    var attempt = 0
    while true {
      attempt += 1
      let current = try takeConnection()
      do {
        let result = try body(current)
        putBack(current)
        return result
      } catch var error as PostgresError where ["40P01", "40001"].contains(error.sqlState ?? "") {
        putBack(current)
        if attempt < 3 { continue }
        error.isTransient = true
        throw error
      } catch {
        putBack(current)
        throw error
      }
    }
  }

  /// The most connections kept idle (one per thread that writes: runner, committer, intake, follower).
  static let idleLimit = 4

  private func takeConnection() throws -> PostgresConnection {
    while let connection = lock.withLock({ idle.popLast() }) {
      if connection.isHealthy { return connection }
    }
    let made = try PostgresConnection(conninfo: conninfo, database: database)
    // What this connection writes carries this process's mark (``writer``): its feed passes over it.
    try made.execute("SELECT set_config('jobdrop.writer', '\(writer)', false)")
    return made
  }

  /// Keeps `connection` for the next call, unless it was lost or left inside a transaction.
  private func putBack(_ connection: PostgresConnection) {
    guard connection.isHealthy else { return }
    lock.withLock { if idle.count < PostgresSpool.idleLimit { idle.append(connection) } }
  }
}
