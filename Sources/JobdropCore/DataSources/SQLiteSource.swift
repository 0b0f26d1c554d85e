import CSQLite

/// Exports from a SQLite database file, reading each row's cells straight from SQLite's buffers.
public struct SQLiteSource: DataSource {
  public let path: String

  public init(path: String) { self.path = path }

  public var displayName: String { "sqlite:\(path)" }

  public func export(_ query: ExportQuery, to writer: CSVWriter, progress: (Int) -> Void) throws -> Int {
    let database = try SQLiteDatabase(path: path)
    try database.execute("PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16384")
    let statement = try database.prepare(query.sql)
    try statement.bind(query.condition.bindings)
    let handle = statement.handle
    let guarded = query.columns.map { $0.type == .text }
    let columnCount = Int32(guarded.count)
    var rows = 0
    while try statement.step() {
      for index in 0..<columnCount {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER:
          try writer.integer(sqlite3_column_int64(handle, index))
        case SQLITE_NULL:
          try writer.empty()
        case SQLITE_FLOAT:
          var text = String(sqlite3_column_double(handle, index))
          try text.withUTF8 { try writer.text(UnsafeRawBufferPointer($0), guarded: false) }
        default:
          let pointer = sqlite3_column_text(handle, index)
          let length = Int(sqlite3_column_bytes(handle, index))
          try writer.text(UnsafeRawBufferPointer(start: pointer, count: length), guarded: guarded[Int(index)])
        }
      }
      try writer.endRow()
      rows += 1
      if rows & 0x3FFF == 0 { progress(rows) }
    }
    return rows
  }
}
