import JobdropModel
import JobdropSystem

/// Where export rows come from. A source streams rows into a writer and never holds a result set.
public protocol DataSource: Sendable {
  /// A name for logs and errors that carries no secret.
  var displayName: String { get }

  /// The SQL flavour queries for this source are written in.
  var dialect: SQLDialect { get }

  /// Runs `query` and writes each row to `writer`; returns the number of rows. Calls `progress` with the
  /// rows so far every few thousand rows; an error it throws stops the export. Sources open the
  /// existential once (``RowWriter``'s known writers each get their own specialised row loop).
  func export(
    _ query: ExportQuery, to writer: any RowWriter, cancellation: ExportCancellation?,
    progress: (Int) throws -> Void
  ) throws -> Int

  /// Cuts every running export short, also inside a query that has not produced a row yet
  /// (`sqlite3_progress_handler`, `PQcancel`); for a shutdown, after which the source is not used again.
  func interruptRunning()
}

/// A source whose row loop is generic over the writer, so each writer gets a loop of its own.
protocol SpecialisingSource: DataSource {
  func export<Writer: RowWriter>(
    _ query: ExportQuery, into writer: Writer, cancellation: ExportCancellation?,
    progress: (Int) throws -> Void
  ) throws -> Int
}

extension SpecialisingSource {
  /// Opens the writer once and runs the row loop specialised for its type (no witness-table call per
  /// cell for the writers jobdrop has).
  func exportOpeningWriter(
    _ query: ExportQuery, to writer: any RowWriter, cancellation: ExportCancellation?,
    progress: (Int) throws -> Void
  ) throws -> Int {
    switch writer {
    case let writer as CSVWriter:
      try export(query, into: writer, cancellation: cancellation, progress: progress)
    case let writer as JSONLinesWriter:
      try export(query, into: writer, cancellation: cancellation, progress: progress)
    case let writer as XLSXWriter:
      try export(query, into: writer, cancellation: cancellation, progress: progress)
    default: try export(query, into: writer, cancellation: cancellation, progress: progress)
    }
  }
}

extension DataSource {
  /// An export nothing but a shutdown interrupts.
  public func export(_ query: ExportQuery, to writer: any RowWriter, progress: (Int) throws -> Void) throws
    -> Int
  {
    try export(query, to: writer, cancellation: nil, progress: progress)
  }
}

/// An error a data source throws: whether trying again may succeed, and the text a partner may read.
public protocol DataSourceError: Error, CustomStringConvertible {
  /// Trying again later could succeed (the connection was refused or dropped, the database was busy).
  var isTransient: Bool { get }
  /// The error for the job's public `error`: no file path, no SQL text, no secret.
  var publicDescription: String { get }
}

/// Where the commerce data lives, as given by `--source`.
public enum DataSourceLocation: Sendable, Equatable, CustomStringConvertible {
  /// `sqlite:PATH`
  case sqlite(path: String)
  /// `postgres://user[:password]@host:port/db` (missing parts come from `PG*` variables and the password file).
  case postgres(url: String)

  /// Parses `sqlite:PATH` (a bare path also means SQLite).
  public init(parsing text: String) throws(ConfigurationError) {
    if text.hasPrefix("sqlite:") {
      let path = String(text.dropFirst("sqlite:".count))
      guard !path.isEmpty else {
        throw ConfigurationError("--source: sqlite: needs a path, e.g. sqlite:data/store.sqlite")
      }
      self = .sqlite(path: path)
    } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
      self = .postgres(url: text)
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
    case .postgres(let url): DataSourceLocation.redacted(url)
    }
  }

  /// The SQL flavour of the source.
  public var dialect: SQLDialect {
    switch self {
    case .sqlite: .sqlite
    case .postgres: .postgres
    }
  }

  /// A PostgreSQL URL without its user and password: `postgres://host:port/db`.
  static func redacted(_ url: String) -> String {
    guard let colon = url.firstIndex(of: ":") else { return url }
    var rest = url[url.index(after: colon)...].drop { $0 == "/" }
    if let at = rest.lastIndex(of: "@"), !rest[..<at].contains("/") { rest = rest[rest.index(after: at)...] }
    if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
    return "postgres://" + rest
  }

  /// Opens the source for exports.
  public func makeSource() -> any DataSource {
    switch self {
    case .sqlite(let path): SQLiteSource(path: path)
    case .postgres(let url): PostgresSource(conninfo: url, displayName: DataSourceLocation.redacted(url))
    }
  }
}
