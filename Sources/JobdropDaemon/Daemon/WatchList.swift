import Synchronization

/// The drop folders the watcher is to watch, set by the intake thread (at start and after a partners
/// reload) and followed by the watch thread.
public final class WatchList: Sendable {
  private let state = Mutex<(version: Int, folders: [String: String?])>((0, [:]))

  public init(_ folders: [(path: String, partner: String?)] = []) { set(folders) }

  /// Replaces the folders: path → partner (`nil`: the inbox itself).
  public func set(_ list: [(path: String, partner: String?)]) {
    state.withLock {
      $0.folders = Dictionary(list.map { ($0.path, $0.partner) }) { first, _ in first }
      $0.version += 1
    }
  }

  /// The folders and the version they are at; a watcher compares versions to see a change.
  public func snapshot() -> (version: Int, folders: [String: String?]) {
    state.withLock { $0 }
  }
}
