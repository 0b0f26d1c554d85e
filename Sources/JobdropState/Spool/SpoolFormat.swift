import JobdropSystem

/// The spool's format version: `VERSION` in its folder. A newer jobdrop upgrades an older spool in place
/// at start (its migrations, in order, then the new number); an older one refuses a newer spool rather
/// than misread it.
///
/// - 1: the spool before it had a version (state folders, `requests/`, `damaged/`, `retiring/`,
///   `webhooks/`).
/// - 2: standing requests (`schedules/`), runs' `scheduleID` and `window` in status files (read by a
///   format-1 jobdrop as unknown fields: it would run a run without its window, so it must refuse).
public enum SpoolFormat {
  public static let current = 2
  static let file = FileName("VERSION")

  /// The migrations, each from the version before it: what version `n` needs done to a spool of `n − 1`.
  static let migrations: [Int: @Sendable (DirectoryHandle) throws -> Void] = [
    // The schedules' folder is made when first needed; nothing older changes.
    2: { _ in }
  ]

  /// The spool's version (1 when it has no `VERSION`), or why it cannot be read.
  public static func version(of root: DirectoryHandle) throws -> Int {
    guard let bytes = try? FileReader.read(file, in: root, limit: 64) else { return 1 }
    let text = String(decoding: bytes.filter { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 }, as: UTF8.self)
    guard let version = Int(text), version >= 1 else {
      throw ConfigurationError("spool \(root.path): VERSION says '\(text.prefix(20))', not a format number")
    }
    return version
  }

  /// Refuses a spool newer than this jobdrop.
  public static func check(_ root: DirectoryHandle) throws {
    let version = try version(of: root)
    if version > current {
      throw ConfigurationError(
        "spool format \(version) is newer than this jobdrop (\(current)); upgrade jobdrop")
    }
  }

  /// Brings the spool at `root` to the current format (call holding its lock); returns the version it
  /// had.
  @discardableResult
  public static func upgrade(_ root: DirectoryHandle) throws -> Int {
    let version = try version(of: root)
    try check(root)
    guard version < current || (try? FileReader.read(file, in: root, limit: 64)) == nil else {
      return version
    }
    for next in (version + 1)...max(version + 1, current) where next <= current {
      try migrations[next]?(root)
    }
    try AtomicWriter.write(Array("\(current)\n".utf8), to: file, in: root, mode: 0o600)
    return version
  }
}
