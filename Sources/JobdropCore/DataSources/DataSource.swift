/// Where export rows come from. A source streams rows into a writer and never holds a result set.
public protocol DataSource: Sendable {
  /// A name for logs and errors that carries no secret.
  var displayName: String { get }

  /// Runs `query` and writes each row to `writer`; returns the number of rows. Calls `progress` with the
  /// rows so far every few thousand rows; an error it throws stops the export.
  func export(_ query: ExportQuery, to writer: CSVWriter, progress: (Int) throws -> Void) throws -> Int
}

/// Where the commerce data lives, as given by `--source`.
public enum DataSourceLocation: Sendable, Equatable, CustomStringConvertible {
  /// `sqlite:PATH`
  case sqlite(path: String)

  /// Parses `sqlite:PATH` (a bare path also means SQLite).
  public init(parsing text: String) throws(ConfigurationError) {
    if text.hasPrefix("sqlite:") {
      let path = String(text.dropFirst("sqlite:".count))
      guard !path.isEmpty else {
        throw ConfigurationError("--source: sqlite: needs a path, e.g. sqlite:data/store.sqlite")
      }
      self = .sqlite(path: path)
    } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
      throw ConfigurationError("--source: PostgreSQL sources are not supported yet; use sqlite:PATH")
    } else if !text.contains("://") && !text.isEmpty {
      self = .sqlite(path: text)
    } else {
      throw ConfigurationError(
        "--source: expected sqlite:PATH or postgres://user@host:port/db, got '\(text)'")
    }
  }

  public var description: String {
    switch self {
    case .sqlite(let path): "sqlite:\(path)"
    }
  }

  /// Opens the source for exports.
  public func makeSource() -> any DataSource {
    switch self {
    case .sqlite(let path): SQLiteSource(path: path)
    }
  }
}
