/// A failed PostgreSQL operation: what failed, the server's message and SQLSTATE, and whether trying
/// again later could succeed. Never contains the password.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
  /// `host:port/database` (no user, no password).
  public var database: String
  public var message: String
  /// The SQLSTATE code, when the server sent one (e.g. `42P01` undefined table).
  public var sqlState: String?
  /// The connection was refused, dropped or the server is starting or shutting down.
  public var isTransient: Bool

  package init(database: String, message: String, sqlState: String?, isTransient: Bool) {
    self.database = database
    self.message = message
    self.sqlState = sqlState
    self.isTransient = isTransient
  }

  public var description: String {
    "postgres \(database): \(message)\(sqlState.map { " (SQLSTATE \($0))" } ?? "")"
  }

  /// What a partner reads: the kind of failure and the SQLSTATE, never the server's host, port, database,
  /// user or message (which can quote SQL, relations and paths); ``description`` goes to the log.
  public var publicDescription: String {
    if isTransient && (sqlState.map { $0.hasPrefix("08") } ?? true) { return "the database is unavailable" }
    guard let state = sqlState else { return "the database refused the service's connection" }
    let code = " (SQLSTATE \(state))"
    switch state {
    case "42P01", "42703", "42883": return "the database does not have what this job type reads" + code
    case "57014": return "the database cancelled the query" + code
    case _ where state.hasPrefix("28") || state == "42501":
      return "the database refused the service's access" + code
    case _ where isTransient: return "the database is unavailable" + code
    default: return "the database could not run the export" + code
    }
  }

  /// Transient: connection exceptions (class 08), operator intervention (57P01–57P03), too many
  /// connections (53300). Permanent: everything else, e.g. undefined table or permission denied.
  package static func isTransient(sqlState: String?) -> Bool {
    guard let state = sqlState else { return true }
    return state.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(state)
  }
}
