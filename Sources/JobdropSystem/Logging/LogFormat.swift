import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// How logs are written to stderr: `text` for people, `json` (one object per line) for collectors.
public enum LogFormat: String, Sendable, CaseIterable {
  case text, json

  /// Installs the handler for this format; call once at start. What is logged is written before the
  /// process exits (for at most 2 s, should nobody read stderr).
  public func bootstrap(level: Logger.Level) {
    LogWriter.standardError.jsonNotice = self == .json
    atexit { LogWriter.standardError.flush(timeoutMilliseconds: 2_000) }
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
