import JobdropSystem

/// The drop folders the watcher is to watch, set by the intake thread (at start and after a partners
/// reload) and followed by the watch thread.
// @unchecked: `folders` and `version` are only touched under `lock`.
public final class WatchList: @unchecked Sendable {
  private let lock = ConditionLock()
  private var folders: [String: String?] = [:]
  private var version = 0

  public init(_ folders: [(path: String, partner: String?)] = []) { set(folders) }

  /// Replaces the folders: path → partner (`nil`: the inbox itself).
  public func set(_ list: [(path: String, partner: String?)]) {
    lock.withLock {
      folders = Dictionary(list.map { ($0.path, $0.partner) }) { first, _ in first }
      version += 1
    }
  }

  /// The folders and the version they are at; a watcher compares versions to see a change.
  public func snapshot() -> (version: Int, folders: [String: String?]) {
    lock.withLock { (version, folders) }
  }
}
