import JobdropModel
import JobdropPostgres
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Reads a PostgreSQL table in slices of its blocks on several connections at once, as
/// ``SQLiteSliceScan`` reads SQLite by rowid, so that the server's work runs on more than one backend
/// while the output stays byte-identical to one sequential scan.
///
/// Used when the query is a sequential scan of one plain table (its plan says so): each slice is a TID
/// range (`ctid >= '(a,0)' AND ctid < '(b,0)'`, PostgreSQL's TID Range Scan), which visits its blocks in
/// the order a sequential scan does; the last slice is open-ended. Every connection is in a read-only
/// repeatable-read transaction on the first one's exported snapshot (`pg_export_snapshot`), so the
/// slices together are one consistent read. Index scans are off in those transactions, so a slice
/// never comes out in an index's order.
struct PostgresSliceScan {
  /// Blocks per slice: 4 MiB of heap, about 13,000 order rows (3 MB of CSV); tests make slices tiny with
  /// `JOBDROP_POSTGRES_SLICE_BLOCKS`.
  static let sliceBlocks: Int = {
    guard let text = getenv("JOBDROP_POSTGRES_SLICE_BLOCKS"), let blocks = Int(String(cString: text)),
      blocks > 0
    else { return 512 }
    return blocks
  }()

  let query: ExportQuery
  /// The table's blocks when the scan was planned.
  let blocks: Int

  /// The table's blocks when `query` on `connection` is worth reading in slices (a plain table scanned
  /// sequentially, of at least two slices); `nil` otherwise.
  static func blocks(for query: ExportQuery, on connection: PostgresConnection) -> Int? {
    let source = query.jobType.source
    guard PostgresSliceScan.isTableName(source), !query.sql.contains(" ORDER BY ") else { return nil }
    guard
      let size = try? connection.execute(
        "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint", [.text(source)]
      ).integer(0, 0), size >= 2 * Int64(sliceBlocks),
      let plan = try? connection.execute("EXPLAIN " + query.sql, query.condition.bindings).text(0, 0)
    else { return nil }
    return plan.hasPrefix("Seq Scan on ") ? Int(size) : nil
  }

  /// `name` or `schema.name`, letters, digits and underscores: a table, not a join or a subquery.
  static func isTableName(_ text: String) -> Bool {
    let parts = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    return (1...2).contains(parts.count)
      && parts.allSatisfy { part in
        guard let first = part.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
          return false
        }
        return part.allSatisfy {
          $0 == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0 | 0x20)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
        }
      }
  }

  /// Starts the transactions: `connections[0]` exports its snapshot, the others take it.
  static func begin(_ connections: [PostgresConnection]) throws {
    let settings =
      "SET LOCAL synchronize_seqscans = off; SET LOCAL enable_indexscan = off; "
      + "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_indexonlyscan = off"
    try connections[0].execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    guard let snapshot = try connections[0].execute("SELECT pg_export_snapshot()").text(0, 0) else {
      throw PostgresError(
        database: connections[0].database, message: "no snapshot to share", sqlState: nil, isTransient: true)
    }
    try connections[0].execute(settings)
    for helper in connections.dropFirst() {
      try helper.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
      // A snapshot id is the server's own text ("00000003-0000001B-1"), never a partner's.
      try helper.execute("SET TRANSACTION SNAPSHOT '\(snapshot)'")
      try helper.execute(settings)
    }
  }

  /// Writes the rows of every slice that match the query; returns how many. `progress` is called on
  /// the calling thread with the rows written so far; an error stops every connection.
  func run<Writer: RowWriter>(
    on connections: [PostgresConnection], to writer: Writer, progress: (Int) throws -> Void
  ) throws -> Int {
    let slices = SliceQueue(buffers: connections.count + 2, writer: writer)
    let blocks = BlockCounter(blocks: blocks)
    let helpers = connections.dropFirst().map { connection in
      let lent = LentConnection(connection: connection)
      return JoinableThread(name: "jobdrop-pg-slice") {
        do {
          try work(lent.connection, slices: slices, blocks: blocks, writer: writer) { _ in }
        } catch {
          slices.stop(error)
        }
      }
    }
    do {
      try work(connections[0], slices: slices, blocks: blocks, writer: writer, progress: progress)
    } catch {
      slices.stop(error)
    }
    helpers.forEach { $0.join() }
    return try slices.result()
  }

  /// Formats slices until none is left, handing each to the queue.
  private func work<Writer: RowWriter>(
    _ connection: PostgresConnection, slices: SliceQueue, blocks: BlockCounter, writer: Writer,
    progress: (Int) throws -> Void
  ) throws {
    let replacements = try connection.bindThroughSettings(query.sql, query.condition.bindings)
    let target = SwitchableSink()
    let local = writer.sliceWriter(into: target)
    while let (number, first, buffer) = try slices.claim(next: { blocks.next() }) {
      target.buffer = buffer
      let bounds =
        number == blocks.lastSlice
        ? "ctid >= '(\(first),0)'::tid"
        : "ctid >= '(\(first),0)'::tid AND ctid < '(\(first + PostgresSliceScan.sliceBlocks),0)'::tid"
      let sql = PostgresConnection.replacingPlaceholders(
        query.dialect.placeholders(query.sql(reading: query.jobType.source, within: bounds)),
        with: replacements)
      let rows = try PostgresRowCopier(columns: query.columns).copyRows(sql, on: connection, to: local)
      try local.flush()
      try slices.complete(number, buffer: buffer, rows: rows)
      try progress(slices.rowsWritten)
    }
  }
}

/// The first block of the next slice (asked under the slice queue's lock, so slice N starts at block
/// N × ``PostgresSliceScan/sliceBlocks``).
// @unchecked: only touched under the slice queue's lock (in `claim`), and `lastSlice` never changes.
private final class BlockCounter: @unchecked Sendable {
  private var handedOut = 0
  private let slices: Int
  /// The number of the open-ended slice: it reads every block from its first on, so rows in blocks
  /// added after the table was measured are not lost.
  let lastSlice: Int

  init(blocks: Int) {
    slices = max(1, (blocks + PostgresSliceScan.sliceBlocks - 1) / PostgresSliceScan.sliceBlocks)
    lastSlice = slices - 1
  }

  func next() -> Int? {
    guard handedOut < slices else { return nil }
    handedOut += 1
    return (handedOut - 1) * PostgresSliceScan.sliceBlocks
  }
}

/// A connection handed to one helper thread, which alone uses it until it is joined.
// @unchecked: the connection is used by that thread only, then by the caller after the join.
private struct LentConnection: @unchecked Sendable {
  let connection: PostgresConnection
}
