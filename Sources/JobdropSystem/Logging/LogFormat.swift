import Logging

/// How logs are written to stderr: `text` for people, `json` (one object per line) for collectors.
public enum LogFormat: String, Sendable, CaseIterable {
  case text, json

  /// Installs the handler for this format; call once at start.
  public func bootstrap(level: Logger.Level) {
    switch self {
    case .text:
      LoggingSystem.bootstrap { label in
        var handler = TextLogHandler(label: label)
        handler.logLevel = level
        return handler
      }
    case .json:
      LoggingSystem.bootstrap { label in
        var handler = JSONLogHandler(label: label)
        handler.logLevel = level
        return handler
      }
    }
  }
}
