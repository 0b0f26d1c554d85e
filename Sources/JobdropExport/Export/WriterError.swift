/// A file a row writer could not write (a workbook, a Parquet file): a message a partner may read (no
/// path), and for the log what else is known.
public struct WriterError: Error, CustomStringConvertible {
  public var publicDescription: String
  /// The temp file and the system's reason, for the log.
  public var detail: String?
  public var description: String { publicDescription + (detail.map { " (\($0))" } ?? "") }
  init(_ publicDescription: String, detail: String? = nil) {
    self.publicDescription = publicDescription
    self.detail = detail
  }
}
