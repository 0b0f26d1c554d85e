import JobdropPostgres
import JobdropSystem

/// The shared table's format version (`jobdrop_schema`), as ``SpoolFormat`` is the spool folder's: a
/// newer jobdrop migrates an older table at start, in the transaction that holds the schema's advisory
/// lock (two nodes starting together migrate once), and an older one refuses a newer table.
extension PostgresSpool {
  /// 1: the jobs (`jobdrop_jobs`, `jobdrop_change`); 2: the schedules (`jobdrop_schedules`); 3: each
  /// row's `writer` (the process that wrote it last, whose feed passes over it).
  public static let format = 3

  /// What version `n` adds to a table of `n − 1` (`IF NOT EXISTS` throughout: a table of the version
  /// before `jobdrop_schema` existed is version 1 and its `CREATE`s do nothing).
  static let migrations: [Int: String] = [
    1: schema, 2: scheduleSchema, 3: "ALTER TABLE jobdrop_jobs ADD COLUMN IF NOT EXISTS writer text",
  ]

  /// Brings the table to ``format``; call in a transaction holding the schema's advisory lock. Returns
  /// the version it had (0: a new database).
  @discardableResult
  static func migrate(_ connection: PostgresConnection) throws -> Int {
    try connection.execute("CREATE TABLE IF NOT EXISTS jobdrop_schema (version integer NOT NULL)")
    let version = try storedVersion(connection)
    if version > format { throw newer(version) }
    guard version < format else { return version }
    for step in (version + 1)...format { try connection.execute(migrations[step]!) }
    try connection.execute("DELETE FROM jobdrop_schema")
    try connection.execute("INSERT INTO jobdrop_schema (version) VALUES (\(format))")
    return version
  }

  /// The table's version: `jobdrop_schema`'s, or 1 for jobs written before it existed, 0 for none.
  static func storedVersion(_ connection: PostgresConnection) throws -> Int {
    let schema = try connection.execute("SELECT to_regclass('jobdrop_schema') IS NOT NULL")
    if schema.text(0, 0) == "t" {
      let found = try connection.execute("SELECT max(version) FROM jobdrop_schema")
      if let version = found.integer(0, 0) { return Int(version) }
    }
    let jobs = try connection.execute("SELECT to_regclass('jobdrop_jobs') IS NOT NULL")
    return jobs.text(0, 0) == "t" ? 1 : 0
  }

  static func newer(_ version: Int) -> ConfigurationError {
    ConfigurationError(
      "shared spool format \(version) is newer than this jobdrop (\(format)); upgrade jobdrop")
  }

  /// Refuses a table newer than this jobdrop (for the commands that only read it).
  func checkFormat() throws {
    let version = try withConnection { try PostgresSpool.storedVersion($0) }
    if version > PostgresSpool.format { throw PostgresSpool.newer(version) }
  }
}
