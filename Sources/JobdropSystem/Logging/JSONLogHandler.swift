import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// A log handler that writes one JSON object per line to stderr: `time`, `level`, `message`, then the
/// metadata keys (`job.id`, `request.file`, …) as strings, through a ``LogWriter`` (never blocking).
public struct JSONLogHandler: LogHandler {
  public var metadata: Logger.Metadata = [:]
  public var logLevel: Logger.Level = .info
  let label: String
  let writer: LogWriter

  /// Writes through `writer` (by default stderr's ``LogWriter``, which never blocks the caller).
  public init(label: String, writer: LogWriter = .standardError) {
    self.label = label
    self.writer = writer
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var fields: [(String, String)] = [
      ("time", Timestamp.now().rfc3339), ("level", event.level.rawValue),
      ("message", event.message.description),
    ]
    let merged = metadata.merging(event.metadata ?? [:]) { $1 }
    for key in merged.keys.sorted() { fields.append((key, merged[key]!.description)) }
    if let error = event.error { fields.append(("error", "\(error)")) }
    var line = "{"
    for (offset, field) in fields.enumerated() {
      if offset > 0 { line += "," }
      line += JSONLogHandler.quote(field.0) + ":" + JSONLogHandler.quote(field.1)
    }
    line += "}\n"
    writer.write(Array(line.utf8))
  }

  /// A JSON string literal of `text`.
  package static func quote(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n": result += "\\n"
      case "\r": result += "\\r"
      case "\t": result += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: result.unicodeScalars.append(scalar)
      }
    }
    return result + "\""
  }
}
