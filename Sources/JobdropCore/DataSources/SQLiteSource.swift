import CSQLite

/// Exports from a SQLite database file, reading each row's cells straight from SQLite's buffers.
///
/// Read-only connections are kept open between jobs (a few at most), so a small job does not pay for
/// opening the file and reading its schema; a connection to a file that has since been replaced (e.g. by
/// `jobdrop demo-data`) is not reused.
public struct SQLiteSource: DataSource {
  public let path: String
  private let pool: SQLiteConnectionPool

  public init(path: String) {
    self.path = path
    self.pool = SQLiteConnectionPool(path: path)
  }

  public var displayName: String { "sqlite:\(path)" }

  public var dialect: SQLDialect { .sqlite }

  public func export(_ query: ExportQuery, to writer: CSVWriter, progress: (Int) throws -> Void) throws -> Int
  {
    let database = try pool.take()
    var healthy = false
    defer { if healthy { pool.give(database) } }
    let statement = try database.prepare(query.sql)
    try statement.bind(query.condition.bindings)
    let handle = statement.handle
    // Per column: numbers are read as integers (one type check for NULL), text straight from SQLite's
    // page buffer: two C calls per cell.
    let kinds = query.columns.map { column -> CellKind in
      column.type.isNumeric ? .number : column.type == .text ? .guardedText : .text
    }
    var rows = 0
    while try statement.step() {
      for (offset, kind) in kinds.enumerated() {
        let index = Int32(offset)
        if kind == .number {
          switch sqlite3_column_type(handle, index) {
          case SQLITE_INTEGER:
            try writer.integer(sqlite3_column_int64(handle, index))
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
        guard let pointer = sqlite3_column_blob(handle, index) else {
          try writer.empty()
          continue
        }
        let length = Int(sqlite3_column_bytes(handle, index))
        try writer.text(UnsafeRawBufferPointer(start: pointer, count: length), guarded: kind == .guardedText)
      }
      try writer.endRow()
      rows += 1
      if rows & 0x1FFF == 0 { try progress(rows) }
    }
    healthy = true
    return rows
  }
}

/// How a column's cells are read and written.
private enum CellKind {
  case number, text, guardedText
}
