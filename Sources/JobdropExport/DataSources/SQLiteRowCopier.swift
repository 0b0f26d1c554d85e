import CSQLite
import JobdropModel

/// Copies the rows of a running SQLite statement into a row writer, reading each cell straight from
/// SQLite's buffers: numbers as integers (one type check for NULL), text as the stored bytes.
struct SQLiteRowCopier {
  private let kinds: [CellKind]

  init(columns: [Column]) {
    kinds = columns.map { column in column.type.isNumeric ? .number : column.type == .text ? .text : .typed }

  }

  /// Steps `statement` to its end, writing each row; calls `progress` every 8,192 rows with the count.
  func copyRows<Writer: RowWriter>(
    of statement: SQLiteStatement, to writer: Writer, progress: (Int) throws -> Void = { _ in }
  ) throws -> Int {
    let handle = statement.handle
    var rows = 0
    // A statement's result row is a fixed run of its registers: each column's value is at the same address
    // row after row, so the addresses are looked up again only when the first column's moves (they never
    // do for a plain SELECT). Each lookup locks and unlocks the connection and checks the statement: half
    // of SQLite's cost per cell beyond decoding it.
    let values = UnsafeMutableBufferPointer<OpaquePointer?>.allocate(capacity: max(kinds.count, 1))
    defer { values.deallocate() }
    values.initialize(repeating: nil)
    while try statement.step() {
      if !kinds.isEmpty && sqlite3_column_value(handle, 0) != values[0] {
        for offset in kinds.indices { values[offset] = sqlite3_column_value(handle, Int32(offset)) }
      }
      for (offset, kind) in kinds.enumerated() {
        // The value accessors below need no further checks on the statement.
        let value = values[offset]
        if kind == .number {
          switch sqlite3_value_type(value) {
          case SQLITE_INTEGER:
            try writer.integer(sqlite3_value_int64(value))
            continue
          case SQLITE_NULL:
            try writer.empty()
            continue
          default:
            break
          }
        }
        // The blob accessor hands out the stored bytes as they are (text is UTF-8 here); the text one would
        // first copy each value to add a NUL. NULL and empty both come back as no pointer: an empty cell.
        guard let pointer = sqlite3_value_blob(value) else {
          try writer.empty()
          continue
        }
        let length = Int(sqlite3_value_bytes(value))
        // Every text value is guarded, whatever the column's declared type (SQLite stores what it is
        // given); in a column typed as a number or a time, a value that is a plain number is left as is.
        try writer.text(
          UnsafeRawBufferPointer(start: pointer, count: length), guarded: true, numbersAsIs: kind != .text)
      }
      try writer.endRow()
      rows += 1
      if rows & 0x1FFF == 0 { try progress(rows) }
    }
    return rows
  }
}

/// How a column's cells are read and written: integers first (`number`), free `text`, or text in a column
/// of another declared type (`typed`).
private enum CellKind {
  case number, text, typed
}
