import CSQLite
import JobdropModel

#if canImport(Glibc)
  import Glibc
#endif

/// Exports from a SQLite database file.
///
/// Each export runs in one read transaction. ``SQLiteScanPlan`` decides how the table is read: as SQLite
/// plans it, or (a full scan or a wide range) as rowid slices formatted on up to `workers` connections
/// at once. Helper connections join the first one's snapshot: in rollback-journal mode the first
/// connection's shared lock keeps any writer from committing until the export ends, so a transaction
/// begun after it sees the same data; a database in WAL mode is read on one connection.
///
/// Read-only connections are kept open between jobs (a few at most), so a small job does not pay for
/// opening the file and reading its schema; a connection to a file that has since been replaced (e.g. by
/// `jobdrop demo-data`) is not reused.
public struct SQLiteSource: SpecialisingSource {
  public let path: String
  /// Connections one export may read on at once.
  public let workers: Int
  /// Rowids per slice when a table is read in slices.
  let sliceRows: Int64
  private let pool: SQLiteConnectionPool

  public init(path: String, workers: Int? = nil) {
    self.init(path: path, workers: workers, sliceRows: SQLiteSliceScan.defaultSliceRows)
  }

  init(path: String, workers: Int?, sliceRows: Int64) {
    self.path = path
    self.workers = max(1, workers ?? min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 4))
    self.sliceRows = sliceRows
    self.pool = SQLiteConnectionPool(path: path)
  }

  public var displayName: String { "sqlite:\(path)" }

  public var dialect: SQLDialect { .sqlite }

  public func export(
    _ query: ExportQuery, to writer: any RowWriter, cancellation: ExportCancellation?,
    progress: (Int) throws -> Void
  ) throws -> Int {
    try exportOpeningWriter(query, to: writer, cancellation: cancellation, progress: progress)
  }

  func export<Writer: RowWriter>(
    _ query: ExportQuery, into writer: Writer, cancellation: ExportCancellation?,
    progress: (Int) throws -> Void
  ) throws -> Int {
    var connections = [try pool.take()]
    var healthy = false
    defer {
      for connection in connections {
        // Only a connection back outside any transaction is reused.
        let ended = (try? connection.execute("COMMIT")) != nil
        if healthy && ended { pool.give(connection) }
      }
    }
    try connections[0].execute("BEGIN")
    // The plan only changes how fast rows come; a schema it cannot read leaves SQLite's own plan.
    // A format written by one thread (a workbook) takes the rows as SQLite plans them.
    let plan =
      writer.formatsInSlices
      ? (try? SQLiteScanPlan.choose(for: query, on: connections[0])) ?? .asPlanned : .asPlanned
    let rows: Int
    switch plan {
    case .asPlanned:
      let statement = try connections[0].keptStatement(query.sql)
      defer { statement.reset() }
      try statement.bind(query.condition.bindings)
      rows = try interruptible(connections, by: cancellation) {
        try SQLiteRowCopier(columns: query.columns).copyRows(of: statement, to: writer, progress: progress)
      }
    case .rowidSlices(let first, let last):
      let cursor = SQLiteSliceCursor(query: query, rowidsFrom: first, to: last, size: sliceRows)
      let helpers = last - first >= sliceRows ? try joinedHelpers(to: connections[0]) : []
      connections += helpers
      rows = try interruptible(connections, by: cancellation) {
        try SQLiteSliceScan(query: query, cursor: cursor).run(on: connections, to: writer, progress: progress)
      }
    case .indexSlices(let index, let column, let firstKey, let lastKey):
      let cursor = SQLiteSliceCursor(
        query: query, index: index, column: column, firstKey: firstKey, lastKey: lastKey,
        entries: Int(sliceRows))
      connections += try joinedHelpers(to: connections[0])
      rows = try interruptible(connections, by: cancellation) {
        try SQLiteSliceScan(query: query, cursor: cursor).run(on: connections, to: writer, progress: progress)
      }
    }
    healthy = true
    return rows
  }

  /// Runs `body` so that `cancellation` stops it: `sqlite3_interrupt` on each of `connections`.
  private func interruptible<T>(
    _ connections: [SQLiteDatabase], by cancellation: ExportCancellation?, _ body: () throws -> T
  ) throws -> T {
    guard let cancellation else { return try body() }
    // The flag each connection's progress handler reads (sticky: a statement started after the cancel
    // stops too), and sqlite3_interrupt for the one running now.
    let stops = connections.compactMap(\.stop)
    let handles = InterruptibleHandles(handles: connections.map(\.handle))
    let interrupt: @Sendable () -> Void = {
      for stop in stops { stop.cancelled.store(true, ordering: .relaxed) }
      handles.handles.forEach { sqlite3_interrupt($0) }
    }
    return try cancellation.whileRunning(interrupt: interrupt, body)
  }

  /// Up to `workers - 1` more connections in read transactions on `first`'s snapshot; none for a
  /// database in WAL mode. A connection that cannot start one at once (a writer waiting for the lock,
  /// which `first`'s shared lock holds up) is left out: waiting would hold the writer, and every other
  /// reader of the database behind it, for the busy timeout too.
  private func joinedHelpers(to first: SQLiteDatabase) throws -> [SQLiteDatabase] {
    guard workers > 1, try !isWAL(first) else { return [] }
    var helpers: [SQLiteDatabase] = []
    for _ in 1..<workers {
      let helper = try pool.take()
      do {
        try helper.withoutWaiting {
          try helper.execute("BEGIN")
          _ = try helper.rows("SELECT count(*) FROM sqlite_master")
        }
      } catch {
        try? helper.execute("ROLLBACK")
        break
      }
      helpers.append(helper)
    }
    return helpers
  }

  public func interruptRunning() { pool.interruptRunning() }

  private func isWAL(_ database: SQLiteDatabase) throws(SQLiteError) -> Bool {
    try database.rows("PRAGMA journal_mode").first?.first??.lowercased() == "wal"
  }
}
