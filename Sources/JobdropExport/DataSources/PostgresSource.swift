import JobdropModel
import JobdropPostgres
import JobdropSystem

/// A PostgreSQL failure is a data source failure: it says whether trying again may help, and what a
/// partner may read.
extension PostgresError: DataSourceError {}

/// Exports from PostgreSQL: the query runs inside `COPY (…) TO STDOUT` with its values bound as
/// parameters (``PostgresConnection/copyOut(_:_:columns:sent:row:)``), and each row is handed over as it
/// arrives, straight into the writer, so memory does not grow with the export's size. Connections are
/// reused between jobs.
public struct PostgresSource: SpecialisingSource {
  /// The connection string as given (may hold a password: never logged).
  let conninfo: String
  public let displayName: String
  public var dialect: SQLDialect { .postgres }
  private let pool: PostgresConnectionPool

  public init(conninfo: String, displayName: String) {
    self.conninfo = conninfo
    self.displayName = displayName
    let database =
      displayName.hasPrefix("postgres://") ? String(displayName.dropFirst("postgres://".count)) : displayName
    self.pool = PostgresConnectionPool(conninfo: conninfo, database: database)
  }

  public func interruptRunning() { pool.interruptRunning() }

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
        let ended = connection.isHealthy || (try? connection.execute("COMMIT")) != nil
        pool.give(connection, healthy: healthy && ended)
      }
    }
    // Same row order as a plain table scan, run after run.
    try connections[0].execute("SET synchronize_seqscans = off")
    // A large table may be read on more connections: they are opened while its scan is planned.
    let blocks = writer.formatsInSlices ? PostgresSliceScan.blocks(toCut: query, on: connections[0]) : nil
    let opening = blocks == nil ? [] : (1..<PostgresSource.workers).map { _ in OpeningConnection(pool) }
    let sliced = blocks.flatMap { PostgresSliceScan.plan(for: query, blocks: $0, on: connections[0]) }
    for helper in opening {
      let connection = try helper.connection()
      if sliced == nil { pool.give(connection, healthy: true) } else { connections.append(connection) }
    }
    if let sliced { try sliced.begin(connections) }
    let cancels = cancellation == nil ? [] : connections.compactMap { PostgresCancel($0) }
    let rows = try (cancellation ?? ExportCancellation()).whileRunning(interrupt: {
      cancels.forEach { $0.cancel() }
    }) {
      if let sliced { return try sliced.run(on: connections, to: writer, progress: progress) }
      // COPY: the server streams rows while this thread writes them, each one buffer split at its tabs.
      return try PostgresRowCopier(columns: query.columns).copyRows(
        query, on: connections[0], to: writer, sent: { cancellation?.recheck() }, progress: progress)
    }
    if sliced != nil {
      for connection in connections { try connection.execute("COMMIT") }
    }
    healthy = connections.allSatisfy(\.isHealthy)
    return rows
  }

  /// Connections a large export is read on at once (``PostgresSliceScan``).
  static let workers = 2
}

/// Writes the rows of a COPY into a writer, every value guarded (in columns typed as numbers or times,
/// plain numbers are left as they are): a whole row at once where the writer can take it as it came
/// (``RowWriter/copyTextRow(_:numbers:columns:)``), otherwise value by value.
struct PostgresRowCopier {
  /// Per column: whether it is free text.
  let free: [Bool]
  /// Bit N set when column N is typed (a number or a time), for the first 64.
  let numbers: UInt64

  init(columns: [Column]) {
    free = columns.map { $0.type == .text }
    numbers = free.prefix(64).enumerated().reduce(0) { $0 | ($1.element ? 0 : 1 << UInt64($1.offset)) }
  }

  /// Runs `query` (its values bound) on `connection`; returns the rows written.
  func copyRows<Writer: RowWriter>(
    _ query: ExportQuery, on connection: PostgresConnection, to writer: Writer, sent: () -> Void,
    progress: (Int) throws -> Void
  ) throws -> Int {
    var rows = 0
    try connection.copyOut(query.sql, query.condition.bindings, columns: free.count, sent: sent) { row in
      try write(row, to: writer)
      rows += 1
      if rows & 0x1FFF == 0 { try progress(rows) }
    }
    return rows
  }

  /// Runs `sql` (no placeholders left) on `connection`; returns the rows written.
  func copyRows<Writer: RowWriter>(_ sql: String, on connection: PostgresConnection, to writer: Writer) throws
    -> Int
  {
    var rows = 0
    try connection.copyOut(sql, columns: free.count) { row in
      try write(row, to: writer)
      rows += 1
    }
    return rows
  }

  @inline(__always)
  private func write<Writer: RowWriter>(_ row: PostgresCopyRow, to writer: Writer) throws {
    if try writer.copyTextRow(row.line, numbers: numbers, columns: free.count) { return }
    let row = try row.fields()
    for (column, freeText) in free.enumerated() {
      if row.isNull(column) {
        try writer.empty()
        continue
      }
      try writer.text(row.bytes(column), guarded: true, numbersAsIs: !freeText)
    }
    try writer.endRow()
  }
}

/// A connection taken from the pool on a thread of its own (a new one costs a SCRAM exchange, about
/// 10 ms), while the caller goes on.
private final class OpeningConnection: @unchecked Sendable {
  // @unchecked: `result` is written by the thread before `join()` returns, and read only after it.
  private var result: Result<PostgresConnection, PostgresError>?
  private var thread: JoinableThread?

  init(_ pool: PostgresConnectionPool) {
    thread = JoinableThread(name: "jobdrop-pg-open") { [self] in
      result = Result { () throws(PostgresError) in try pool.take() }
    }
  }

  /// The connection, once open.
  func connection() throws(PostgresError) -> PostgresConnection {
    thread?.join()
    return try result!.get()
  }
}

/// Idle PostgreSQL connections, reused by later exports; a broken one is dropped.
// @unchecked: the idle connections are only touched under `lock`; a taken connection has one user. (A
// Mutex cannot hand the non-Sendable connections out.)
final class PostgresConnectionPool: @unchecked Sendable {
  let conninfo: String
  let database: String
  private let lock = ConditionLock()
  private var idle: [PostgresConnection] = []
  /// The cancel handles of the connections now running an export.
  private var running: [ObjectIdentifier: PostgresCancel] = [:]
  private var interrupted = false

  init(conninfo: String, database: String) {
    self.conninfo = conninfo
    self.database = database
  }

  func take() throws(PostgresError) -> PostgresConnection {
    var connection = lock.withLock { idle.popLast() }
    if connection?.isHealthy != true {
      connection = try PostgresConnection(conninfo: conninfo, database: database)
    }
    let taken = connection!
    let cancel = PostgresCancel(taken)
    let stopping = lock.withLock {
      if let cancel, !interrupted { running[ObjectIdentifier(taken)] = cancel }
      return interrupted
    }
    if stopping {
      throw PostgresError(
        database: database, message: "jobdrop is shutting down", sqlState: nil, isTransient: true)
    }
    return taken
  }

  func give(_ connection: PostgresConnection, healthy: Bool) {
    lock.withLock { _ = running.removeValue(forKey: ObjectIdentifier(connection)) }
    guard healthy, connection.isHealthy else { return }
    lock.withLock { if idle.count < 8 { idle.append(connection) } }
  }

  /// Asks the server to cancel what every taken connection runs (`PQcancel`, safe from any thread); no
  /// connection is handed out from now on.
  func interruptRunning() {
    lock.withLock {
      interrupted = true
      for cancel in running.values { cancel.cancel() }
    }
  }
}
