import JobdropModel
import JobdropPostgres
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Reads a PostgreSQL table in slices on several connections at once, as ``SQLiteSliceScan`` reads
/// SQLite by rowid or by an index's keys, so that the server's work runs on more than one backend while
/// the output stays byte-identical to one scan.
///
/// A sequential scan of one plain table is cut into TID ranges (``Cut/blocks(_:)``: `ctid >= '(a,0)'
/// AND ctid < '(b,0)'`, PostgreSQL's TID Range Scan), which visit their blocks in the order a sequential
/// scan does; the last is open-ended, and index scans are off. An index scan (a filter on an indexed
/// column) is cut into ranges of the index's first column at its histogram's bounds
/// (``Cut/keys(_:)``, ``PostgresKeyRanges``), each read by the same index in its order. Every
/// connection is in a read-only repeatable-read transaction on the first one's exported snapshot
/// (`pg_export_snapshot`), so the slices together are one consistent read.
struct PostgresSliceScan {
  /// Blocks per slice: 4 MiB of heap, about 13,000 order rows (3 MB of CSV); tests make slices tiny with
  /// `JOBDROP_POSTGRES_SLICE_BLOCKS`.
  static let sliceBlocks: Int = {
    guard let text = getenv("JOBDROP_POSTGRES_SLICE_BLOCKS"), let blocks = Int(String(cString: text)),
      blocks > 0
    else { return 512 }
    return blocks
  }()

  /// How the rows are cut into slices.
  enum Cut: Equatable {
    /// The table's blocks when the scan was planned.
    case blocks(Int)
    /// Ranges of an index's first column.
    case keys(PostgresKeyRanges)
  }

  let query: ExportQuery
  let cut: Cut

  /// The blocks of the table `query` reads, when the query reads one plain table in no particular
  /// order and the table holds at least two slices of blocks; `nil` otherwise.
  static func blocks(toCut query: ExportQuery, on connection: PostgresConnection) -> Int? {
    let source = query.jobType.source
    guard PostgresSliceScan.isTableName(source), !query.sql.contains(" ORDER BY "),
      let size = try? connection.execute(
        "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint", [.text(source)]
      ).integer(0, 0), size >= 2 * Int64(sliceBlocks)
    else { return nil }
    return Int(size)
  }

  /// How `query` on `connection`, reading a table of `blocks` (``blocks(toCut:on:)``), is cut: by
  /// blocks when it is planned as a sequential scan, by keys when as an index scan whose keys can be
  /// cut; `nil` otherwise.
  static func plan(for query: ExportQuery, blocks: Int, on connection: PostgresConnection)
    -> PostgresSliceScan?
  {
    guard let plan = try? connection.execute("EXPLAIN " + query.sql, query.condition.bindings).text(0, 0)
    else { return nil }
    if plan.hasPrefix("Seq Scan on ") { return PostgresSliceScan(query: query, cut: .blocks(blocks)) }
    guard let keys = PostgresKeyRanges.plan(for: query, scan: plan, on: connection) else { return nil }
    return PostgresSliceScan(query: query, cut: .keys(keys))
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

  /// How many slices there are.
  var sliceCount: Int {
    switch cut {
    case .blocks(let blocks):
      max(1, (blocks + PostgresSliceScan.sliceBlocks - 1) / PostgresSliceScan.sliceBlocks)
    case .keys(let keys): keys.slices
    }
  }

  /// The condition that makes slice `number` of the query.
  func bounds(ofSlice number: Int) -> String {
    switch cut {
    case .blocks:
      let first = number * PostgresSliceScan.sliceBlocks
      // The last slice reads every block from its first on, so rows in blocks added after the table was
      // measured are not lost.
      return number == sliceCount - 1
        ? "ctid >= '(\(first),0)'::tid"
        : "ctid >= '(\(first),0)'::tid AND ctid < '(\(first + PostgresSliceScan.sliceBlocks),0)'::tid"
    case .keys(let keys): return keys.bounds(ofSlice: number)
    }
  }

  /// Starts the transactions: `connections[0]` exports its snapshot, the others take it; each gets the
  /// settings that keep every slice on the scan that was planned.
  func begin(_ connections: [PostgresConnection]) throws {
    try connections[0].execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    guard let snapshot = try connections[0].execute("SELECT pg_export_snapshot()").text(0, 0) else {
      throw PostgresError(
        database: connections[0].database, message: "no snapshot to share", sqlState: nil, isTransient: true)
    }
    try settle(connections[0])
    for helper in connections.dropFirst() {
      try helper.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
      // A snapshot id is the server's own text ("00000003-0000001B-1"), never a partner's.
      try helper.execute("SET TRANSACTION SNAPSHOT '\(snapshot)'")
      try settle(helper)
    }
  }

  /// This transaction's settings for the cut.
  func settle(_ connection: PostgresConnection) throws(PostgresError) {
    switch cut {
    case .blocks:
      try connection.execute(
        "SET LOCAL synchronize_seqscans = off; SET LOCAL enable_indexscan = off; "
          + "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_indexonlyscan = off")
    case .keys(let keys): try keys.settle(connection)
    }
  }

  /// Writes the rows of every slice that match the query; returns how many. `progress` is called on
  /// the calling thread with the rows written so far; an error stops every connection.
  func run<Writer: RowWriter>(
    on connections: [PostgresConnection], to writer: Writer, progress: (Int) throws -> Void
  ) throws -> Int {
    let slices = SliceQueue(buffers: connections.count + 2, writer: writer)
    let helpers = connections.dropFirst().map { connection in
      let lent = LentConnection(connection: connection)
      return JoinableThread(name: "jobdrop-pg-slice") {
        do {
          try work(lent.connection, slices: slices, writer: writer) { _ in }
        } catch {
          slices.stop(error)
        }
      }
    }
    do {
      try work(connections[0], slices: slices, writer: writer, progress: progress)
    } catch {
      slices.stop(error)
    }
    helpers.forEach { $0.join() }
    return try slices.result()
  }

  /// Formats slices until none is left, handing each to the queue.
  private func work<Writer: RowWriter>(
    _ connection: PostgresConnection, slices: SliceQueue, writer: Writer,
    progress: (Int) throws -> Void
  ) throws {
    let replacements = try connection.bindThroughSettings(query.sql, query.condition.bindings)
    let target = SwitchableSink()
    let local = writer.sliceWriter(into: target)
    while let (number, buffer) = try slices.claim(below: sliceCount) {
      target.buffer = buffer
      let sql = PostgresConnection.replacingPlaceholders(
        query.dialect.placeholders(query.sql(reading: query.jobType.source, within: bounds(ofSlice: number))),
        with: replacements)
      let rows = try PostgresRowCopier(columns: query.columns).copyRows(sql, on: connection, to: local)
      try local.flush()
      try slices.complete(number, buffer: buffer, rows: rows)
      try progress(slices.rowsWritten)
    }
  }
}

/// A connection handed to one helper thread, which alone uses it until it is joined.
// @unchecked: the connection is used by that thread only, then by the caller after the join.
private struct LentConnection: @unchecked Sendable {
  let connection: PostgresConnection
}
