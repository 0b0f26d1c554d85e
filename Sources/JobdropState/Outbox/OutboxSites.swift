import JobdropSystem
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The static sites jobdrop publishes into the outbox folder: the folder itself for jobs of no partner,
/// and `outbox/<id>/` for each partner's jobs, each a complete site of the single-partner layout
/// (`index.json`, `jobs/`, `files/`, `requests/`) holding that partner's jobs only.
///
/// Sites are opened (and created) on first use, so a new partner's site appears with its first job or
/// when ``open(partner:)`` is called for it at start or reload.
public final class OutboxSites: Sendable {
  /// The outbox folder.
  public let path: String
  public let links: OutboxLinks
  /// Seconds a job lives after it was created.
  public let ttl: Int64
  private struct State {
    var sites: [String?: Outbox] = [:]
    /// The sites whose error documents could not be written yet (a full disk).
    var errorDocumentsMissing = Set<String?>()
  }
  private let state = Mutex(State())
  /// Told of every file any site writes or removes.
  public let observer: (any OutboxObserver)?

  /// Opens the outbox folder at `path` (creating it when missing); the root site itself is opened on its
  /// first use.
  public init(
    path: String, links: OutboxLinks, ttl: Int64, observer: (any OutboxObserver)? = nil
  ) throws(FileSystemError) {
    _ = try DirectoryHandle(path: path, create: true, mode: 0o755)
    self.observer = observer
    self.path = path
    self.links = links
    self.ttl = ttl
  }

  /// The site of `partner`'s jobs (`nil`: the outbox folder itself), opened and created when needed.
  public func open(partner: String?) throws(FileSystemError) -> Outbox {
    try state.withLock { (state) throws(FileSystemError) -> Outbox in
      if let site = state.sites[partner] { return site }
      let site = try Outbox(
        path: partner.map { "\(path)/\($0)" } ?? path, links: links, ttl: ttl, partner: partner,
        observer: observer)
      do {
        try site.publishErrorDocuments()
      } catch let error as FileSystemError where !error.isTransient {
        throw error
      } catch {
        // A full disk (even at the very first start): the site is used all the same, and its error
        // documents are written once space returns (``writeMissingErrorDocuments()``).
        state.errorDocumentsMissing.insert(partner)
      }
      state.sites[partner] = site
      return site
    }
  }

  /// Writes the error documents a full disk kept out of the sites opened so far; returns how many sites
  /// still miss theirs.
  @discardableResult
  public func writeMissingErrorDocuments() -> Int {
    state.withLock { state in
      for partner in state.errorDocumentsMissing {
        if let site = state.sites[partner], (try? site.publishErrorDocuments()) != nil {
          state.errorDocumentsMissing.remove(partner)
        }
      }
      return state.errorDocumentsMissing.count
    }
  }

  /// The site a job is published in.
  public func site(for job: Job) throws(FileSystemError) -> Outbox { try open(partner: job.record.partner) }

  /// Every site opened so far, with its partner.
  public var opened: [(partner: String?, site: Outbox)] {
    state.withLock { $0.sites.map { ($0.key, $0.value) } }
  }
}
