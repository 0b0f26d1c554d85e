import CPostgres
import JobdropModel

#if canImport(Glibc)
  import Glibc
#endif

/// One libpq connection, used from one thread at a time.
package final class PostgresConnection {
  let connection: OpaquePointer
  package let database: String
  /// The statements prepared on this connection (``execute(prepared:_:)``), by their text: their names.
  private var statements: [String: String] = [:]

  /// Connects with a libpq connection string or `postgres://` URL; libpq also reads `PG*` variables and
  /// the password file (`PGPASSFILE`, `~/.pgpass`).
  package init(conninfo: String, database: String) throws(PostgresError) {
    guard let connection = PQconnectdb(conninfo) else {
      throw PostgresError(database: database, message: "out of memory", sqlState: nil, isTransient: true)
    }
    guard PQstatus(connection) == CONNECTION_OK else {
      let message = PostgresConnection.clean(String(cString: PQerrorMessage(connection)))
      PQfinish(connection)
      let authentication =
        message.contains("password authentication failed") || message.contains("no password supplied")
        || message.contains("does not exist") || message.contains("permission denied")
      throw PostgresError(database: database, message: message, sqlState: nil, isTransient: !authentication)
    }
    self.connection = connection
    self.database = database
  }

  deinit { PQfinish(connection) }

  /// Whether the connection is still usable.
  package var isHealthy: Bool {
    PQstatus(connection) == CONNECTION_OK && PQtransactionStatus(connection) == PQTRANS_IDLE
  }

  /// Runs `sql` with `values` bound as text parameters; returns the result (caller clears it).
  @discardableResult
  package func execute(_ sql: String, _ values: [SQLValue] = []) throws(PostgresError) -> PostgresResult {
    let result: OpaquePointer? = PostgresConnection.withParameters(values) { parameters in
      values.isEmpty
        ? PQexec(connection, sql)
        : PQexecParams(connection, sql, Int32(values.count), nil, parameters, nil, nil, 0)
    }
    return try checked(result)
  }

  /// `result` owned, or its error thrown (a command, rows, or the start of a `COPY … FROM STDIN`).
  private func checked(_ result: OpaquePointer?) throws(PostgresError) -> PostgresResult {
    let wrapped = PostgresResult(result)
    let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
    guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN else {
      throw error(result)
    }
    return wrapped
  }

  /// Runs `sql` as ``execute(_:_:)`` does, prepared once on this connection and reused: the server
  /// parses and plans a statement run for every job once, not every time.
  @discardableResult
  package func execute(prepared sql: String, _ values: [SQLValue]) throws(PostgresError) -> PostgresResult {
    let name = try statement(sql)
    let result: OpaquePointer? = PostgresConnection.withParameters(values) { parameters in
      PQexecPrepared(connection, name, Int32(values.count), parameters, nil, nil, 0)
    }
    return try checked(result)
  }

  /// The name of `sql` prepared on this connection (prepared now the first time).
  private func statement(_ sql: String) throws(PostgresError) -> String {
    if let name = statements[sql] { return name }
    let name = "jobdrop_\(statements.count + 1)"
    let result = PQprepare(connection, name, sql, 0, nil)
    defer { PQclear(result) }
    guard let result, PQresultStatus(result) == PGRES_COMMAND_OK else { throw error(result) }
    statements[sql] = name
    return name
  }

  /// Runs a query with `values` bound and calls `row` with each row as it arrives (libpq's single-row
  /// mode). If `row` throws, the query is cancelled, the rest drained, and the error rethrown.
  package func stream(
    _ sql: String, _ values: [SQLValue], sent onSent: () -> Void = {}, row: (PostgresRow) throws -> Void
  ) throws {
    let sent = PostgresConnection.withParameters(values) { parameters in
      PQsendQueryParams(connection, sql, Int32(values.count), nil, parameters, nil, nil, 0)
    }
    guard sent == 1 else { throw error(nil) }
    PQsetSingleRowMode(connection)
    onSent()
    var failure: (any Error)?
    while let result = PQgetResult(connection) {
      defer { PQclear(result) }
      switch PQresultStatus(result) {
      case PGRES_SINGLE_TUPLE:
        guard failure == nil else { continue }
        do { try row(PostgresRow(result: result)) } catch {
          failure = error
          _ = PQrequestCancel(connection)
        }
      case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
        continue
      default:
        if failure == nil { failure = error(result) }
      }
    }
    if let failure { throw failure }
  }

  /// Streams rows in with `COPY table (columns) FROM STDIN` (text format); `rows` calls `send` per row.
  package func copyIn(_ statement: String, rows: ((([SQLValue]) throws -> Void)) throws -> Void) throws {
    try execute(statement)
    var line: [UInt8] = []
    line.reserveCapacity(1 << 16)
    var buffer: [UInt8] = []
    buffer.reserveCapacity(1 << 20)
    func flush() throws(PostgresError) {
      guard !buffer.isEmpty else { return }
      let sent = buffer.withUnsafeBufferPointer { raw in
        raw.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
      }
      if sent != 1 { throw error(nil) }
      buffer.removeAll(keepingCapacity: true)
    }
    try rows { values in
      for (index, value) in values.enumerated() {
        if index > 0 { buffer.append(0x09) }
        switch value {
        case .null: buffer += [0x5C, 0x4E]
        case .integer(let number): buffer += Array(String(number).utf8)
        case .text(let text):
          for byte in text.utf8 {
            switch byte {
            case 0x5C: buffer += [0x5C, 0x5C]
            case 0x0A: buffer += [0x5C, 0x6E]
            case 0x0D: buffer += [0x5C, 0x72]
            case 0x09: buffer += [0x5C, 0x74]
            default: buffer.append(byte)
            }
          }
        }
      }
      buffer.append(0x0A)
      if buffer.count > 1 << 20 { try flush() }
    }
    try flush()
    guard PQputCopyEnd(connection, nil) == 1 else { throw error(nil) }
    while let result = PQgetResult(connection) {
      defer { PQclear(result) }
      if PQresultStatus(result) != PGRES_COMMAND_OK { throw error(result) }
    }
  }

  /// Calls `body` with `values` as libpq text parameters (NULL for `.null`).
  static func withParameters<R>(_ values: [SQLValue], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R)
    -> R
  {
    let pointers: [UnsafeMutablePointer<CChar>?] = values.map {
      switch $0 {
      case .text(let text): strdup(text)
      case .integer(let number): strdup(String(number))
      case .null: nil
      }
    }
    defer { pointers.forEach { free($0) } }
    let constants: [UnsafePointer<CChar>?] = pointers.map { $0.map { UnsafePointer($0) } }
    return constants.withUnsafeBufferPointer { body($0.baseAddress) }
  }

  func error(_ result: OpaquePointer?) -> PostgresError {
    var state: String?
    var message = String(cString: PQerrorMessage(connection))
    if let result {
      if let code = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) { state = String(cString: code) }
      if let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))) {
        message = String(cString: primary)
      }
    }
    let lost = PQstatus(connection) != CONNECTION_OK
    return PostgresError(
      database: database, message: PostgresConnection.clean(message), sqlState: state,
      isTransient: lost || PostgresError.isTransient(sqlState: state) && state != nil)
  }

  static func clean(_ message: String) -> String {
    message.split(whereSeparator: \.isNewline).map { String($0.trimmingPrefix(while: { $0 == " " })) }.filter
    { !$0.isEmpty }.joined(
      separator: "; ")
  }
}

/// A libpq result, cleared when released.
package final class PostgresResult {
  let handle: OpaquePointer?
  init(_ handle: OpaquePointer?) { self.handle = handle }
  deinit { if let handle { PQclear(handle) } }
}

extension PostgresResult {
  /// How many rows the result holds.
  package var count: Int { handle.map { Int(PQntuples($0)) } ?? 0 }

  /// The text of column `column` in row `row`, or `nil` for NULL.
  package func text(_ row: Int, _ column: Int) -> String? {
    guard let handle, column < PQnfields(handle), PQgetisnull(handle, Int32(row), Int32(column)) == 0 else {
      return nil
    }
    return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
  }

  /// Column `column` of row `row` as an integer, or `nil` for NULL.
  package func integer(_ row: Int, _ column: Int) -> Int64? { text(row, column).flatMap { Int64($0) } }

  /// How many rows the command changed (`UPDATE`, `DELETE`, `INSERT`).
  package var changed: Int { handle.map { Int(String(cString: PQcmdTuples($0))) ?? 0 } ?? 0 }
}

extension PostgresConnection {
  /// Runs `body` inside `BEGIN … COMMIT`; a throw rolls back and rethrows. `begin` may add statements
  /// without values after its `BEGIN` (`SET LOCAL …`): one round trip for all of them.
  package func transaction<R>(begin: String = "BEGIN", _ body: () throws -> R) throws -> R {
    try execute(begin)
    do {
      let result = try body()
      try execute("COMMIT")
      return result
    } catch {
      _ = try? execute("ROLLBACK")
      throw error
    }
  }

  /// Sends every statement at once and reads their results in order (libpq's pipeline mode): one round
  /// trip for all of them. Those with values are prepared once on this connection, as
  /// ``execute(prepared:_:)`` does. A statement that fails makes the server skip the ones after it; its
  /// error is thrown, after a `ROLLBACK` if it left a transaction open.
  package func pipeline(_ statements: [(sql: String, values: [SQLValue])]) throws(PostgresError)
    -> [PostgresResult]
  {
    let names = try statements.map { (statement) throws(PostgresError) -> String? in
      statement.values.isEmpty ? nil : try self.statement(statement.sql)
    }
    guard PQenterPipelineMode(connection) == 1 else { throw error(nil) }
    var failure: PostgresError?
    for (statement, name) in zip(statements, names) {
      let sent = PostgresConnection.withParameters(statement.values) { parameters in
        if let name {
          PQsendQueryPrepared(connection, name, Int32(statement.values.count), parameters, nil, nil, 0)
        } else {
          PQsendQueryParams(connection, statement.sql, 0, nil, nil, nil, nil, 0)
        }
      }
      if sent != 1 {
        failure = error(nil)
        break
      }
    }
    if failure == nil && PQpipelineSync(connection) != 1 { failure = error(nil) }
    var results: [PostgresResult] = []
    if failure == nil {
      for _ in statements {
        var kept: OpaquePointer?
        while let result = PQgetResult(connection) {
          let status = PQresultStatus(result)
          if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK {
            if let kept { PQclear(kept) }
            kept = result
            continue
          }
          if status != PGRES_PIPELINE_ABORTED && failure == nil { failure = error(result) }
          PQclear(result)
        }
        results.append(PostgresResult(kept))
      }
      if let sync = PQgetResult(connection) { PQclear(sync) }  // PGRES_PIPELINE_SYNC
    }
    _ = PQexitPipelineMode(connection)
    if let failure {
      if PQtransactionStatus(connection) == PQTRANS_INERROR { _ = try? execute("ROLLBACK") }
      throw failure
    }
    return results
  }

  /// The connection's socket, to wait on for notifications (`poll`).
  package var socket: Int32 { PQsocket(connection) }

  /// Reads what the server sent and returns the notifications' payloads (after `LISTEN`).
  package func notifications() throws(PostgresError) -> [String] {
    guard PQconsumeInput(connection) == 1 else { throw error(nil) }
    var payloads: [String] = []
    while let notice = PQnotifies(connection) {
      payloads.append(String(cString: notice.pointee.extra))
      PQfreemem(notice)
    }
    return payloads
  }
}

/// One row of a streamed result (single-row mode): its columns' bytes, valid until the row's callback
/// returns. Inlined into the export's row loop.
package struct PostgresRow {
  @usableFromInline let result: OpaquePointer

  @usableFromInline init(result: OpaquePointer) { self.result = result }

  /// Whether column `column` is NULL.
  @inlinable package func isNull(_ column: Int32) -> Bool { PQgetisnull(result, 0, column) == 1 }

  /// Column `column`'s bytes (text format).
  @inlinable package func bytes(_ column: Int32) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: PQgetvalue(result, 0, column), count: Int(PQgetlength(result, 0, column)))
  }
}

/// A handle that asks the server to cancel what a connection runs (`PQcancel`, documented as safe to call
/// from any thread); freed when released.
// @unchecked: libpq's cancel object is immutable (nothing to lock) and made to be used from another thread.
package final class PostgresCancel: @unchecked Sendable {
  private let handle: OpaquePointer

  /// The cancel handle of `connection`, or `nil` when libpq cannot make one.
  package init?(_ connection: PostgresConnection) {
    guard let handle = PQgetCancel(connection.connection) else { return nil }
    self.handle = handle
  }

  deinit { PQfreeCancel(handle) }

  /// Asks the server to cancel the running query.
  package func cancel() {
    var message = [CChar](repeating: 0, count: 256)
    _ = PQcancel(handle, &message, 256)
  }
}
