import JobdropModel
import JobdropSystem
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The partners file in force: loaded and checked at start, read again when it changes. A new version
/// takes effect only if it passes every check; an invalid one leaves the one in force as it is.
public final class PartnerRegistry: Sendable {
  /// The partners file.
  public let path: String
  let catalog: Catalog
  private struct State {
    var current: PartnerList
    var loadedVersion: [Int64]?
  }
  private let state: Mutex<State>

  /// Loads the file at `path`; throws when it is refused (its error names the file and the partner).
  public init(path: String, catalog: Catalog) throws(PartnersError) {
    self.path = path
    self.catalog = catalog
    let version = PartnerRegistry.version(of: path)
    state = Mutex(State(current: try PartnerList.load(path: path, catalog: catalog), loadedVersion: version))
  }

  /// The partners in force now.
  public var list: PartnerList { state.withLock { $0.current } }

  /// The partner called `id`, if it is served now.
  public func partner(id: String) -> Partner? { state.withLock { $0.current.partner(id: id) } }

  /// What a reload did.
  public enum Reload: Sendable, Equatable {
    /// The file did not change (same inode, size and times), or holds the same partners.
    case unchanged
    /// A new list is in force.
    case changed(PartnerList)
    /// The file changed but was refused; the previous list stays in force.
    case refused(PartnersError)
  }

  /// Reads the file again if it changed since it was last read.
  public func reload() -> Reload {
    let version = PartnerRegistry.version(of: path)
    let unchanged = state.withLock { version != nil && version == $0.loadedVersion }
    if unchanged { return .unchanged }
    let loaded: PartnerList
    do {
      loaded = try PartnerList.load(path: path, catalog: catalog)
    } catch {
      state.withLock { $0.loadedVersion = version }
      return .refused(error)
    }
    return state.withLock { state in
      state.loadedVersion = version
      guard loaded != state.current else { return .unchanged }
      state.current = loaded
      return .changed(loaded)
    }
  }

  /// Device, inode, size, and change and modification times of `path`: what an edit in place or by
  /// rename changes.
  static func version(of path: String) -> [Int64]? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return [
      Int64(info.st_dev), Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec),
      Int64(info.st_mtim.tv_nsec), Int64(info.st_ctim.tv_sec), Int64(info.st_ctim.tv_nsec),
      Int64(info.st_mode),
    ]
  }
}
