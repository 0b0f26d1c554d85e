import CSQLite
import JobdropModel

#if canImport(Glibc)
  import Glibc
#endif

/// An open SQLite connection, used from one thread at a time.
///
/// Thin over the C API: ``execute(_:)`` for scripts, ``prepare(_:)`` for statements whose rows are
/// stepped one at a time (nothing is collected).
public final class SQLiteDatabase {
  let handle: OpaquePointer
  /// The database file.
  public let path: String
  /// The file's inode when it was opened (set by the connection pool).
  var inode: ino_t = 0
  /// What its progress handler checks (set by the connection pool, which keeps it alive with this).
  var stop: SQLiteConnectionPool.ConnectionStop?

  /// Opens `path`; read-only unless `writable`, creating the file only when `create`.
  public init(path: String, writable: Bool = false, create: Bool = false) throws(SQLiteError) {
    var flags = SQLITE_OPEN_NOMUTEX | (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY)
    if create { flags |= SQLITE_OPEN_CREATE }
    var pointer: OpaquePointer?
    let code = sqlite3_open_v2(path, &pointer, flags, nil)
    guard code == SQLITE_OK, let pointer else {
      let message =
        pointer.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
      sqlite3_close_v2(pointer)
      throw SQLiteError(code: code, message: message, sql: nil, path: path)
    }
    self.handle = pointer
    self.path = path
    sqlite3_busy_timeout(handle, 5_000)
    sqlite3_extended_result_codes(handle, 0)
    let registered = sqlite3_create_function_v2(
      handle, SQLiteDatabase.foldFunction, 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nil,
      { context, _, arguments in SQLiteDatabase.fold(context, arguments?[0]) }, nil, nil, nil)
    if registered != SQLITE_OK {
      let failure = error(registered, sql: nil)
      sqlite3_close_v2(handle)
      throw failure
    }
  }

  /// Runs `body` with no wait for a lock: SQLite answers `SQLITE_BUSY` at once instead of retrying for
  /// the connection's usual 5 s.
  func withoutWaiting<T>(_ body: () throws -> T) rethrows -> T {
    sqlite3_busy_timeout(handle, 0)
    defer { sqlite3_busy_timeout(handle, 5_000) }
    return try body()
  }

  /// The SQL function `like` filters compare through on SQLite: Unicode lowercase mapping (Swift's
  /// `lowercased()`), the case folding PostgreSQL's `ILIKE` applies under a UTF-8 ctype. SQLite's own
  /// `LIKE` folds ASCII only, so `like(name,"*MÜLLER*")` would miss `Müller`.
  static let foldFunction = "jobdrop_fold"

  private static func fold(_ context: OpaquePointer?, _ value: OpaquePointer?) {
    guard let value, sqlite3_value_type(value) != SQLITE_NULL, let text = sqlite3_value_text(value) else {
      sqlite3_result_null(context)
      return
    }
    let count = Int(sqlite3_value_bytes(value))
    let bytes = UnsafeBufferPointer(start: text, count: count)
    if bytes.allSatisfy({ $0 < 0x80 }) {
      // ASCII, the common case, without building a String.
      var folded = [UInt8](bytes)
      for index in folded.indices where folded[index] >= 0x41 && folded[index] <= 0x5A {
        folded[index] |= 0x20
      }
      sqlite3_result_text(context, folded, Int32(count), jobdrop_sqlite_transient())
    } else {
      let folded = String(decoding: bytes, as: UTF8.self).lowercased()
      sqlite3_result_text(context, folded, -1, jobdrop_sqlite_transient())
    }
  }

  /// Statements compiled once and kept, by their SQL (``keptStatement(_:)``, ``rows(_:_:)``): an export's
  /// plan asks the same few questions of the schema at every job (``SQLiteScanPlan``), and a small job's
  /// query has the same text whatever its values; compiling them cost more than a small job's run of its
  /// query. SQLite compiles a kept statement again by itself when the schema changes. At most
  /// ``keptLimit``; all are let go when it is reached.
  private var kept: [String: OpaquePointer] = [:]
  static let keptLimit = 32

  deinit {
    for statement in kept.values { sqlite3_finalize(statement) }
    sqlite3_close_v2(handle)
  }

  /// Runs one or more statements that return no rows.
  public func execute(_ sql: String) throws(SQLiteError) {
    let code = sqlite3_exec(handle, sql, nil, nil, nil)
    if code != SQLITE_OK { throw error(code, sql: sql) }
  }

  /// Compiles one statement.
  public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
    SQLiteStatement(database: self, handle: try compile(sql), sql: sql)
  }

  /// A statement this connection keeps compiled (see `kept`), for one user at a time: reset it after
  /// use, whatever happened, so that it holds no lock and no bindings. It stays valid until the next
  /// statement is asked of this connection (``keptStatements(_:)``, ``rows(_:_:)``), which may let all go.
  func keptStatement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
    try keptStatements([sql])[0]
  }

  /// Statements this connection keeps compiled, for one user at a time, as ``keptStatement(_:)``: all of
  /// them valid together until the next statement is asked of this connection.
  func keptStatements(_ texts: [String]) throws(SQLiteError) -> [SQLiteStatement] {
    let missing = Set(texts.filter { kept[$0] == nil })
    if kept.count + missing.count > SQLiteDatabase.keptLimit {
      for statement in kept.values { sqlite3_finalize(statement) }
      kept.removeAll()
    }
    var statements: [SQLiteStatement] = []
    for sql in texts {
      let compiled: OpaquePointer
      if let statement = kept[sql] {
        compiled = statement
      } else {
        compiled = try compile(sql)
        kept[sql] = compiled
      }
      statements.append(SQLiteStatement(database: self, handle: compiled, sql: sql, finalizes: false))
    }
    return statements
  }

  /// Answers about the schema, by question, kept while the schema's version is `schemaAnswersVersion`.
  private var schemaAnswers: [String: Bool] = [:]
  private var schemaAnswersVersion: Int64?

  /// `answer()`, remembered under `question` until the schema changes: its version (`PRAGMA
  /// schema_version`) moves on every change by any connection. The export plan asks the same questions
  /// of the schema at every job, and a table's columns (`pragma_table_info`) cost more to read than a
  /// small job's query. Ask inside a read transaction, so that the version and the answer are of one
  /// snapshot.
  func schemaAnswer(_ question: String, _ answer: () throws(SQLiteError) -> Bool) throws(SQLiteError) -> Bool
  {
    let version = try rows("PRAGMA schema_version").first?.first?.flatMap { Int64($0) }
    if version != schemaAnswersVersion {
      schemaAnswers.removeAll()
      schemaAnswersVersion = version
    }
    if let known = schemaAnswers[question] { return known }
    let value = try answer()
    if version != nil { schemaAnswers[question] = value }
    return value
  }

  private func compile(_ sql: String) throws(SQLiteError) -> OpaquePointer {
    var statement: OpaquePointer?
    let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
    guard code == SQLITE_OK, let statement else { throw error(code, sql: sql) }
    return statement
  }

  /// `name` as a quoted SQL identifier, for names read from the schema.
  static func quoted(_ name: String) -> String {
    "\"" + name.replacing("\"", with: "\"\"") + "\""
  }

  /// The rows of a small query, each cell as text (`nil` for NULL).
  func rows(_ sql: String, _ values: [SQLValue] = []) throws(SQLiteError) -> [[String?]] {
    let statement = try keptStatement(sql)
    defer { statement.reset() }
    try statement.bind(values)
    let count = sqlite3_column_count(statement.handle)
    var rows: [[String?]] = []
    while try statement.step() {
      rows.append((0..<count).map { statement.text(at: $0) })
    }
    return rows
  }

  func error(_ code: Int32, sql: String?) -> SQLiteError {
    SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql, path: path)
  }
}

/// A compiled statement; finalized when released.
public final class SQLiteStatement {
  let database: SQLiteDatabase
  let handle: OpaquePointer
  let sql: String
  /// Whether the statement is this object's (finalized with it), or one its database keeps.
  private let finalizes: Bool

  init(database: SQLiteDatabase, handle: OpaquePointer, sql: String, finalizes: Bool = true) {
    self.database = database
    self.handle = handle
    self.sql = sql
    self.finalizes = finalizes
  }

  deinit { if finalizes { sqlite3_finalize(handle) } }

  /// Binds `values` to the `?` parameters, in order.
  public func bind(_ values: [SQLValue]) throws(SQLiteError) {
    for (offset, value) in values.enumerated() {
      let index = Int32(offset + 1)
      let code: Int32 =
        switch value {
        case .integer(let number): sqlite3_bind_int64(handle, index, number)
        case .text(let text): sqlite3_bind_text(handle, index, text, -1, jobdrop_sqlite_transient())
        case .null: sqlite3_bind_null(handle, index)
        }
      if code != SQLITE_OK { throw database.error(code, sql: sql) }
    }
  }

  /// Advances to the next row: `true` while there is one.
  @inline(__always)
  public func step() throws(SQLiteError) -> Bool {
    let code = sqlite3_step(handle)
    if code == SQLITE_ROW { return true }
    if code == SQLITE_DONE { return false }
    throw database.error(code, sql: sql)
  }

  /// Clears bindings and rewinds, to run again.
  public func reset() {
    sqlite3_reset(handle)
    sqlite3_clear_bindings(handle)
  }

  /// Runs a statement that returns no rows with `values` bound, then rewinds it.
  public func run(_ values: [SQLValue]) throws(SQLiteError) {
    defer { reset() }
    try bind(values)
    while try step() {}
  }

  /// The integer in column `index` of the current row.
  public func integer(at index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }

  /// The text in column `index` of the current row when a `String` holds it byte for byte (valid UTF-8,
  /// no NUL), so that binding it again gives the same value; otherwise `nil`.
  func exactText(at index: Int32) -> String? {
    guard let pointer = sqlite3_column_text(handle, index) else { return nil }
    let bytes = UnsafeBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(handle, index)))
    guard !bytes.contains(0) else { return nil }
    return String(validating: bytes, as: UTF8.self)
  }

  /// The text in column `index` of the current row, or `nil` for NULL.
  public func text(at index: Int32) -> String? {
    guard let pointer = sqlite3_column_text(handle, index) else { return nil }
    return String(cString: pointer)
  }
}
