import CByteScan
import CLinux
import CPostgres
import JobdropModel

#if canImport(Glibc)
  import Glibc
#endif

/// Rows out through `COPY (query) TO STDOUT` (text format): one buffer per row from `PQgetCopyData`,
/// split at its tabs, instead of one `PGresult` per row (client CPU for 1,000,000 orders: 0.85 s
/// against 1.3–1.7 s in single-row mode; `scripts/bench-postgres.sh`). The values are the ones a `SELECT` returns
/// (the same output functions), so what is written does not change.
///
/// `COPY` takes no parameters. The values stay bound all the same: they go to the server as parameters
/// of `set_config('jobdrop.pN', $N)`, and the query reads each back as
/// `(SELECT current_setting('jobdrop.pN')::<type>)`, the type the server infers for `$N` (asked by
/// preparing the query and describing it), so no value is ever spliced into SQL text. The sub-select is
/// an init plan, run once per query: a bare `current_setting` in a filter ran once per row (the year's
/// paid orders: 0.48 s of server time against 0.43 s for literals, and for the sub-select).
extension PostgresConnection {
  /// Runs `sql` (with `$N` placeholders) with `values` bound and calls `row` with each row of its
  /// `columns` as it arrives. If `row` throws, the query is cancelled, the rest drained, and the error
  /// rethrown.
  package func copyOut(
    _ sql: String, _ values: [SQLValue], columns: Int, sent onSent: () -> Void = {},
    row: (PostgresCopyRow) throws -> Void
  ) throws {
    let bound = PostgresConnection.replacingPlaceholders(sql, with: try bindThroughSettings(sql, values))
    try copyOut(bound, columns: columns, sent: onSent, row: row)
  }

  /// Runs the query `sql` (no placeholders left: see ``bindThroughSettings(_:_:)``) as COPY and calls
  /// `row` with each row of its `columns`.
  package func copyOut(
    _ sql: String, columns: Int, sent onSent: () -> Void = {}, row: (PostgresCopyRow) throws -> Void
  ) throws {
    let statement = "COPY (\(sql)) TO STDOUT"
    guard PQsendQuery(connection, statement) == 1 else { throw error(nil) }
    onSent()
    guard let started = PQgetResult(connection) else { throw error(nil) }
    guard PQresultStatus(started) == PGRES_COPY_OUT else {
      let failure = error(started)
      PQclear(started)
      while let rest = PQgetResult(connection) { PQclear(rest) }
      throw failure
    }
    PQclear(started)
    let starts = UnsafeMutablePointer<Int>.allocate(capacity: max(columns, 1))
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: max(columns, 1))
    defer {
      starts.deallocate()
      counts.deallocate()
    }
    var failure: (any Error)?
    // Over TLS or GSSAPI encryption, bytes already read from the socket may wait in the library's own
    // buffer, which a wait on the socket would not see: libpq waits there, knowing both.
    let waiter =
      PQsslInUse(connection) == 0 && PQgssEncInUse(connection) == 0
      ? CopyWaiter(socket: PQsocket(connection)) : nil
    var received = 0
    while true {
      var buffer: UnsafeMutablePointer<CChar>?
      let length = PQgetCopyData(connection, &buffer, waiter == nil ? 0 : 1)
      if length == 0, let waiter {
        waiter.wait(received: received)
        guard PQconsumeInput(connection) == 1 else { break }
        continue
      }
      guard length > 0, let buffer else { break }
      defer { PQfreemem(buffer) }
      received += Int(length)
      guard failure == nil else { continue }
      do {
        try row(
          PostgresCopyRow(
            line: UnsafeMutableRawPointer(buffer), length: Int(length), columns: columns, starts: starts,
            counts: counts))
      } catch {
        failure =
          error is PostgresCopyRow.WrongColumnCount
          ? PostgresError(
            database: database, message: "a row of COPY did not have \(columns) columns", sqlState: nil,
            isTransient: false) : error
        _ = PQrequestCancel(connection)
      }
    }
    waiter?.restore()
    while let result = PQgetResult(connection) {
      defer { PQclear(result) }
      if PQresultStatus(result) != PGRES_COMMAND_OK, failure == nil { failure = error(result) }
    }
    if let failure { throw failure }
  }

  /// Sets a setting of this session to each of `values` and returns what stands for `$N` in `sql` (and
  /// in any query with the same placeholders): `(SELECT current_setting('jobdrop.pN')::<type>)`, for
  /// ``replacingPlaceholders(_:with:)``.
  package func bindThroughSettings(_ sql: String, _ values: [SQLValue]) throws(PostgresError) -> [String] {
    guard !values.isEmpty else { return [] }
    // The types the server infers for the parameters.
    let prepared = PostgresResult(PQprepare(connection, "", sql, Int32(values.count), nil))
    guard let handle = prepared.handle, PQresultStatus(handle) == PGRES_COMMAND_OK else {
      throw error(prepared.handle)
    }
    let described = PostgresResult(PQdescribePrepared(connection, ""))
    guard let description = described.handle, PQresultStatus(description) == PGRES_COMMAND_OK else {
      throw error(described.handle)
    }
    let types = (0..<values.count).map { SQLValue.integer(Int64(PQparamtype(description, Int32($0)))) }
    // One round trip: every value into its setting, and every type's name.
    let count = values.count
    let setters = (1...count).map { "set_config('jobdrop.p\($0)', coalesce($\($0)::text, ''), false)" }
    let names = (1...count).map { "format_type($\(count + $0)::oid, NULL)" }
    let answer = try execute("SELECT " + (setters + names).joined(separator: ", "), values + types)
    var replacements: [String] = []
    for index in 0..<count {
      guard let type = answer.text(0, count + index) else { throw error(nil) }
      replacements.append(
        values[index] == .null
          ? "NULL::\(type)" : "(SELECT current_setting('jobdrop.p\(index + 1)')::\(type))")
    }
    return replacements
  }

  /// `sql` with `$N` outside single-quoted strings replaced by `replacements[N - 1]`.
  package static func replacingPlaceholders(_ sql: String, with replacements: [String]) -> String {
    var result = ""
    var quoted = false
    var characters = sql.makeIterator()
    var pending: Character? = characters.next()
    while let character = pending {
      pending = characters.next()
      if character == "'" { quoted.toggle() }
      guard character == "$", !quoted, let first = pending, first.isASCII, first.isNumber else {
        result.append(character)
        continue
      }
      var digits = ""
      while let next = pending, next.isASCII, next.isNumber {
        digits.append(next)
        pending = characters.next()
      }
      if let number = Int(digits), number >= 1, number <= replacements.count {
        result += replacements[number - 1]
      } else {
        result += "$" + digits
      }
    }
    return result
  }
}

/// Waits for a COPY's next rows, in batches once the rows stream: after the first 64 KiB the socket's
/// receive low-water mark (`SO_RCVLOWAT`) is 16 KiB, so the reading thread wakes once per 16 KiB rather
/// than at each 8 KiB the server sends (its output buffer), when it reads faster than the server writes
/// (0.1 CPU s less for 1,000,000 orders). A wait then ends after 200 µs whatever has arrived (the end of
/// a stream is fewer bytes); when nothing has, the server is slow to find rows, and the thread waits for
/// any byte without a timeout, as libpq does. A small export never batches, so it waits for nothing.
private final class CopyWaiter {
  static let lowWater: Int32 = 1 << 14
  /// 200 µs: the server sends 16 KiB in less while it streams; the end of each slice waits this long.
  static let timeoutNanoseconds = 200_000
  /// The bytes of rows after which the rows are taken to stream.
  static let streaming = 1 << 16
  let socket: Int32
  private var batching = false

  init(socket: Int32) { self.socket = socket }

  /// Waits for more of the COPY's bytes, `received` bytes of rows into it.
  func wait(received: Int) {
    var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
    if !batching {
      guard received >= CopyWaiter.streaming else {
        _ = poll(&descriptor, 1, -1)
        return
      }
      batching = true
      setLowWater(CopyWaiter.lowWater)
    }
    guard jobdrop_wait_readable(socket, CopyWaiter.timeoutNanoseconds) == 0 else { return }
    var pending: Int32 = 0
    guard ioctl(socket, UInt(FIONREAD), &pending) == 0, pending == 0 else { return }
    setLowWater(1)
    _ = poll(&descriptor, 1, -1)
    setLowWater(CopyWaiter.lowWater)
  }

  /// Back to waking at every byte, for the queries after the COPY (libpq waits without a timeout).
  func restore() {
    if batching { setLowWater(1) }
  }

  private func setLowWater(_ bytes: Int32) {
    var bytes = bytes
    _ = setsockopt(socket, SOL_SOCKET, SO_RCVLOWAT, &bytes, socklen_t(MemoryLayout<Int32>.size))
  }
}

/// One row of `COPY … TO STDOUT` in text format, as the server sent it (``line``) or split at its tabs
/// (``fields()``), valid until the row's callback returns. Inlined into the export's row loop.
package struct PostgresCopyRow {
  @usableFromInline let base: UnsafeMutableRawPointer
  @usableFromInline let length: Int
  @usableFromInline let columns: Int
  @usableFromInline let starts: UnsafeMutablePointer<Int>
  @usableFromInline let counts: UnsafeMutablePointer<Int>

  @usableFromInline init(
    line: UnsafeMutableRawPointer, length: Int, columns: Int, starts: UnsafeMutablePointer<Int>,
    counts: UnsafeMutablePointer<Int>
  ) {
    self.base = line
    self.length = length
    self.columns = columns
    self.starts = starts
    self.counts = counts
  }

  /// What ``fields()`` throws for a row without the query's number of columns (the COPY reports it as
  /// a ``PostgresError`` naming the database).
  package struct WrongColumnCount: Error {
    @usableFromInline init() {}
  }

  /// The row's bytes as the server sent them: values between tabs, COPY's backslash escapes, `\N` for
  /// NULL, a newline last.
  @inlinable package var line: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }

  /// The row split at its tabs and unescaped in place (`jobdrop_copy_split`, SSE2); ``line`` no longer
  /// holds the row afterwards. Throws when the row does not have the query's number of columns.
  @inlinable package func fields() throws(WrongColumnCount) -> PostgresCopyFields {
    let split = jobdrop_copy_split(base.assumingMemoryBound(to: UInt8.self), length, starts, counts, columns)
    guard split else { throw WrongColumnCount() }
    return PostgresCopyFields(base: UnsafeRawPointer(base), starts: starts, counts: counts)
  }
}

/// The values of one row of `COPY … TO STDOUT` in text format, unescaped: each column's bytes.
package struct PostgresCopyFields {
  @usableFromInline let base: UnsafeRawPointer
  @usableFromInline let starts: UnsafePointer<Int>
  /// `-1` for NULL (`\N`).
  @usableFromInline let counts: UnsafePointer<Int>

  @usableFromInline init(base: UnsafeRawPointer, starts: UnsafePointer<Int>, counts: UnsafePointer<Int>) {
    self.base = base
    self.starts = starts
    self.counts = counts
  }

  /// Whether column `column` is NULL.
  @inlinable package func isNull(_ column: Int) -> Bool { counts[column] < 0 }

  /// Column `column`'s bytes (text format, unescaped).
  @inlinable package func bytes(_ column: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: base + starts[column], count: counts[column])
  }
}
