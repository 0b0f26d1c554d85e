import CPostgres

/// Exports from PostgreSQL through a server-side cursor: the query runs with its values bound as
/// parameters, rows arrive in batches of ``batchSize`` and go straight into the CSV writer, so memory is
/// one batch whatever the export's size. Connections are reused between jobs.
public struct PostgresSource: DataSource {
  /// The connection string as given (may hold a password: never logged).
  let conninfo: String
  public let displayName: String
  public var dialect: SQLDialect { .postgres }
  private let pool: PostgresConnectionPool
  /// Rows per `FETCH`.
  public var batchSize = 10_000

  public init(conninfo: String, displayName: String) {
    self.conninfo = conninfo
    self.displayName = displayName
    let database =
      displayName.hasPrefix("postgres://") ? String(displayName.dropFirst("postgres://".count)) : displayName
    self.pool = PostgresConnectionPool(conninfo: conninfo, database: database)
  }

  public func export(_ query: ExportQuery, to writer: CSVWriter, progress: (Int) throws -> Void) throws -> Int
  {
    let connection = try pool.take()
    var healthy = false
    defer { pool.give(connection, healthy: healthy) }
    try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    do {
      // Same row order as a plain table scan, run after run.
      try connection.execute("SET LOCAL synchronize_seqscans = off")
      try connection.execute(
        "DECLARE jobdrop_rows NO SCROLL CURSOR FOR \(query.sql)", query.condition.bindings)
      let guarded = query.columns.map { $0.type == .text }
      var rows = 0
      while true {
        let batch = try connection.execute("FETCH FORWARD \(batchSize) FROM jobdrop_rows")
        guard let result = batch.handle else { break }
        let count = PQntuples(result)
        if count == 0 { break }
        for row in 0..<count {
          for (offset, guardedColumn) in guarded.enumerated() {
            let column = Int32(offset)
            if PQgetisnull(result, row, column) == 1 {
              try writer.empty()
              continue
            }
            let length = Int(PQgetlength(result, row, column))
            try writer.text(
              UnsafeRawBufferPointer(start: PQgetvalue(result, row, column), count: length),
              guarded: guardedColumn)
          }
          try writer.endRow()
          rows += 1
          if rows & 0x1FFF == 0 { try progress(rows) }
        }
      }
      try connection.execute("COMMIT")
      healthy = true
      return rows
    } catch {
      _ = try? connection.execute("ROLLBACK")
      healthy = connection.isHealthy
      throw error
    }
  }
}

/// Idle PostgreSQL connections, reused by later exports; a broken one is dropped.
final class PostgresConnectionPool: @unchecked Sendable {
  let conninfo: String
  let database: String
  private let lock = ConditionLock()
  private var idle: [PostgresConnection] = []

  init(conninfo: String, database: String) {
    self.conninfo = conninfo
    self.database = database
  }

  func take() throws(PostgresError) -> PostgresConnection {
    if let connection = lock.withLock({ idle.popLast() }), connection.isHealthy { return connection }
    return try PostgresConnection(conninfo: conninfo, database: database)
  }

  func give(_ connection: PostgresConnection, healthy: Bool) {
    guard healthy, connection.isHealthy else { return }
    lock.withLock { if idle.count < 8 { idle.append(connection) } }
  }
}
