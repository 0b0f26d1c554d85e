import FoundationEssentials
import JobdropModel
import JobdropPostgres
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Following the table: change notifications, the index lock, and the feed of changed rows.
extension PostgresSpool {
  /// Waits up to `milliseconds` for another process's change to be announced (on a connection of its
  /// own, which listens); returns whether one was. This process's own changes (its ``writer`` mark) do
  /// not wake it: what it wrote it has. Call from one thread only (the node's follower).
  public func waitForChange(milliseconds: Int32) throws -> Bool {
    let listener = try listening()
    let deadline = ConditionLock.monotonicMilliseconds() + Int64(milliseconds)
    do {
      while true {
        if try listener.notifications().contains(where: { $0 != writer }) { return true }
        let left = deadline - ConditionLock.monotonicMilliseconds()
        guard left > 0 else { return false }
        var descriptor = pollfd(fd: listener.socket, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(left)) > 0 else { return false }
      }
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
  func listening() throws -> PostgresConnection {
    if let listener, listener.isHealthy { return listener }
    listener = nil
    indexLockHeld = false
    let made = try PostgresConnection(conninfo: conninfo, database: database)
    try made.execute("LISTEN \(PostgresSpool.channel)")
    listener = made
    return made
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
  /// transactions commit in. Unless `all`, rows this process wrote last are passed over: it has them.
  public func changes(after position: FeedPosition, limit: Int = 1000, all: Bool = false) throws -> (
    jobs: [Job], cancelled: Set<String>, next: FeedPosition
  ) {
    try withConnection { connection in
      let result = try connection.execute(
        prepared: """
          SELECT j.state, j.record, j.txid::text, j.id, h.horizon::text, j.cancel_requested
          FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon) h
          LEFT JOIN jobdrop_jobs j ON (j.txid, j.id) > ($1::text::xid8, $2) AND j.txid < h.horizon
            AND ($4::text IS NULL OR j.writer IS DISTINCT FROM $4)
          ORDER BY j.txid, j.id LIMIT $3
          """,
        [.integer(position.txid), .text(position.id), .integer(Int64(limit)), all ? .null : .text(writer)])
      let jobs = try PostgresSpool.jobs(in: result)
      let cancelled = Set(
        (0..<result.count).compactMap { row in result.text(row, 5) == "t" ? result.text(row, 3) : nil })
      let last = result.count - 1
      if result.count == limit, let txid = result.integer(last, 2), let id = result.text(last, 3) {
        return (jobs, cancelled, FeedPosition(txid: txid, id: id))
      }
      return (jobs, cancelled, FeedPosition(txid: result.integer(0, 4) ?? position.txid, id: ""))
    }
  }
}
