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
    let connection = try pool.take()
    var healthy = false
    defer { pool.give(connection, healthy: healthy) }
    // Same row order as a plain table scan, run after run.
    try connection.execute("SET synchronize_seqscans = off")
    // Every value is guarded; in columns typed as numbers or times, plain numbers are left as they are.
    let free = query.columns.map { $0.type == .text }
    var rows = 0
    // COPY: the server streams rows while this thread writes them, each one buffer split at its tabs.
    let cancel = cancellation == nil ? nil : PostgresCancel(connection)
    try (cancellation ?? ExportCancellation()).whileRunning(interrupt: { cancel?.cancel() }) {
      try connection.copyOut(
        query.sql, query.condition.bindings, columns: free.count, sent: { cancellation?.recheck() }
      ) { row in
        for (column, freeText) in free.enumerated() {
          if row.isNull(column) {
            try writer.empty()
            continue
          }
          try writer.text(row.bytes(column), guarded: true, numbersAsIs: !freeText)
        }
        try writer.endRow()
        rows += 1
        if rows & 0x1FFF == 0 { try progress(rows) }
      }
    }
    healthy = connection.isHealthy
    return rows
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
