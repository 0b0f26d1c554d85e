import Logging

/// The `text` log format: swift-log's `StreamLogHandler` on stderr, with every control character in the
/// message and the metadata escaped (`\u{1b}`, `\u{a}`), so what a partner wrote (a file name, a filter, a
/// job type) can never start a new log line, forge one, or send escape codes to an operator's terminal.
/// Lines go through a ``LogWriter``, so a stderr nobody reads never blocks the caller.
public struct TextLogHandler: LogHandler {
  private var stream: StreamLogHandler

  /// Writes through `writer` (by default stderr's ``LogWriter``, which never blocks the caller).
  public init(label: String, writer: LogWriter = .standardError) {
    stream = StreamLogHandler(label: label, stream: LogWriterStream(writer: writer))
  }

  public var logLevel: Logger.Level {
    get { stream.logLevel }
    set { stream.logLevel = newValue }
  }

  public var metadataProvider: Logger.MetadataProvider? {
    get { stream.metadataProvider }
    set { stream.metadataProvider = newValue }
  }

  public var metadata: Logger.Metadata {
    get { stream.metadata }
    set { stream.metadata = newValue.mapValues(TextLogHandler.escape) }
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { stream[metadataKey: key] }
    set { stream[metadataKey: key] = newValue.map(TextLogHandler.escape) }
  }

  public func log(event: LogEvent) {
    var event = event
    event.message = "\(TextLogHandler.escape(event.message.description))"
    event.metadata = event.metadata?.mapValues(TextLogHandler.escape)
    stream.log(event: event)
  }

  /// `value` with C0 and C1 control characters and DEL written as `\u{…}`.
  public static func escape(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: isControl) else { return text }
    var escaped = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
      if isControl(scalar) {
        escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
      } else {
        escaped.append(scalar)
      }
    }
    return String(escaped)
  }

  static func escape(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
    switch value {
    case .string(let text): .string(escape(text))
    case .stringConvertible(let convertible): .string(escape(convertible.description))
    case .array(let values): .array(values.map(escape))
    case .dictionary(let values): .dictionary(values.mapValues(escape))
    }
  }

  private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
  }
}
