/// A failed SQLite call: the result code, SQLite's message, and the statement it was running.
public struct SQLiteError: DataSourceError, Sendable {
  /// The SQLite result code, e.g. `SQLITE_ERROR` (1).
  public var code: Int32
  /// SQLite's own message, e.g. `no such table: orders`.
  public var message: String
  /// The statement, when there was one.
  public var sql: String?
  /// The database file.
  public var path: String

  public var description: String {
    var text = "sqlite \(path): \(message)"
    if let sql { text += " (in: \(sql.count > 200 ? String(sql.prefix(200)) + "…" : sql))" }
    return text
  }

  /// SQLite's message alone: the store's path and the statement stay in the log.
  public var publicDescription: String { "sqlite: \(message)" }

  /// Whether trying again later could succeed (the database was busy or locked).
  public var isTransient: Bool { code == 5 || code == 6 }
}
