import FoundationEssentials
import JobdropCrypto
import JobdropState
import JobdropSystem
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Keeps a bucket equal to the outbox (`--publish s3://…`): every file the outbox writes is put under the
/// same key, every file it removes is deleted, beside the jobs and never in their way.
///
/// The outbox tells it what changed (``OutboxObserver``); one thread puts what is current on disk. Order
/// follows what points to what: export files (`files/`) first, then the documents (`jobs/`, `requests/`,
/// `errors/`), then `index.json`, then `index.html`. A document is put only when no export file is
/// waiting, and the index only when nothing else is, and that check is made after the file to put was
/// opened: whatever the opened content points to was changed, and so announced, before it, so it is
/// already in the bucket. A failed call is tried again (0.1 s, doubling to 5 s apart) and holds back only
/// what comes after it. At start the bucket is listed and compared with the outbox (size, then MD5
/// against the ETag), and every difference is queued: a process killed mid-publish, or a bucket changed
/// by hand, ends equal.
///
/// With several nodes on one bucket (a shared spool) each node puts the export files it made, and only
/// the node that renders the index (``setPublishesDocuments(_:)``) puts the documents and the index; a
/// node runs a job to `success` only once its export file is in the bucket
/// (``waitUntilPublished(_:while:)``), so whichever node puts the document, the file is there before it.
// @unchecked: every mutable property is touched under `lock`, except `bucket`, `written` and `writtenAt`,
// which only the publishing thread uses (the mirror's own, or ``publishOnce()``'s caller); a ConditionLock,
// not a Mutex: the mirror thread and ``waitUntilPublished(_:while:)`` wait on it.
public final class BucketMirror: OutboxObserver, @unchecked Sendable {
  public let target: S3Target
  let outbox: String
  let spool: DirectoryHandle
  let logger: Logger
  private let bucket: S3Bucket
  private let lock = ConditionLock()
  /// Paths whose change is not yet in the bucket, with the change's number.
  private var dirty: [String: Int] = [:]
  /// The dirty paths by rank, oldest first (from `heads`); each path is queued once.
  private var queues: [[String]] = Array(repeating: [], count: 4)
  private var heads = [0, 0, 0, 0]
  private var queued = Set<String>()
  private var changes = 0
  private var published = 0
  private var resynced = false
  private var failures = 0
  private var lastError: String?
  /// When the next attempt may be made after a failure (monotonic milliseconds).
  private var retryAt: Int64 = 0
  private var stopping = false
  private var thread: JoinableThread?
  private var written: PublishingStatus?
  private var writtenAt: Int64 = 0
  /// With several nodes on one bucket: whether this mirror only puts its own export files (``rank(of:)``
  /// 0) until it is told it publishes the documents too.
  private let sharesBucket: Bool
  private var publishesDocuments: Bool
  private var resyncRequested = false

  public init(
    target: S3Target, outbox: String, spool: DirectoryHandle, logger: Logger, sharesBucket: Bool = false
  ) {
    self.sharesBucket = sharesBucket
    publishesDocuments = !sharesBucket
    self.target = target
    self.outbox = outbox
    self.spool = spool
    self.logger = logger
    bucket = S3Bucket(target: target)
  }

  // MARK: Told by the outbox

  public func outboxChanged(_ path: String) {
    lock.withLock { markDirty(path) }
    lock.broadcast()
  }

  private func markDirty(_ path: String) {
    if !publishesDocuments && BucketMirror.rank(of: path) > 0 { return }  // another node's to put
    changes += 1
    dirty[path] = changes
    if queued.insert(path).inserted { queues[BucketMirror.rank(of: path)].append(path) }
  }

  /// 0: an export file; 1: a document; 2: `index.json`; 3: `index.html` (of any site).
  static func rank(of path: String) -> Int {
    let parts = SiteHeaders.withinSite(path)
    switch (parts.first ?? "", parts.count) {
    case ("files", 3...): return 0
    case ("index.json", 1): return 2
    case ("index.html", 1): return 3
    default: return 1
    }
  }

  /// Changes not yet in the bucket.
  public var waiting: Int { lock.withLock { dirty.count } }

  /// With several nodes on one bucket: whether this node puts the documents and the index (it renders
  /// the index). A node that takes the role compares the bucket with its outbox again; one that loses it
  /// drops the documents it had queued.
  public func setPublishesDocuments(_ publishes: Bool) {
    lock.withLock {
      guard sharesBucket, publishes != publishesDocuments else { return }
      publishesDocuments = publishes
      if publishes {
        resyncRequested = true
      } else {
        for path in dirty.keys where BucketMirror.rank(of: path) > 0 { dirty[path] = nil }
      }
    }
    lock.broadcast()
  }

  /// Waits until the current content of outbox path `path` is in the bucket, while `keepWaiting` says
  /// so (asked every half second); returns whether it is.
  public func waitUntilPublished(_ path: String, while keepWaiting: () -> Bool) -> Bool {
    while true {
      // `keepWaiting` is asked outside the lock: it may take the job store's, which is held when the
      // outbox tells this mirror of a change.
      let published = lock.withLock {
        if dirty[path] != nil { lock.wait(untilMilliseconds: ConditionLock.monotonicMilliseconds() + 500) }
        return dirty[path] == nil
      }
      if published { return true }
      guard keepWaiting() else { return false }
    }
  }

  // MARK: The thread

  /// Starts the thread: the resync, then every change as it comes.
  public func start() {
    lock.withLock {
      guard thread == nil else { return }
      stopping = false
      thread = JoinableThread(name: "jobdrop-mirror") { [self] in run() }
    }
  }

  /// Stops the thread after its current call and waits for it; what is still waiting is put by the next
  /// start's resync.
  public func stop() {
    let running = lock.withLock {
      stopping = true
      defer { thread = nil }
      return thread
    }
    lock.broadcast()
    running?.join()
    writeStatus(force: true)
  }

  private func run() {
    logger.info("publishing the outbox to the bucket", metadata: ["publish": "\(target)"])
    while !lock.withLock({ stopping }) {
      do {
        try resync()
        break
      } catch {
        failed(error.description, what: "cannot list the bucket")
        waitForRetry()
      }
    }
    while let next = nextChange() {
      if let next {
        attempt(next)
        continue
      }
      // Asked to compare again (this node now puts the documents too).
      do {
        try resync()
      } catch {
        lock.withLock { resyncRequested = true }
        failed(error.description, what: "cannot list the bucket")
        waitForRetry()
      }
    }
  }

  /// Sleeps until the retry time (or a stop).
  private func waitForRetry() {
    lock.withLock {
      while !stopping && ConditionLock.monotonicMilliseconds() < retryAt {
        lock.wait(untilMilliseconds: retryAt)
      }
    }
  }

  /// The oldest change of the lowest rank, once one is due; `.some(nil)` when a resync is asked for;
  /// `nil` when stopping.
  private func nextChange() -> (path: String, change: Int, rank: Int)?? {
    while true {
      let idle = lock.withLock { () -> Bool? in
        if stopping { return nil }
        return dirty.isEmpty
      }
      if lock.withLock({ resyncRequested }) {
        lock.withLock { resyncRequested = false }
        return .some(nil)
      }
      guard let idle else { return nil }
      if idle { writeStatus(force: false) }
      let next: (path: String, change: Int, rank: Int)?? = lock.withLock {
        if stopping { return .some(nil) }
        let now = ConditionLock.monotonicMilliseconds()
        if now < retryAt {
          lock.wait(untilMilliseconds: retryAt)
          return nil
        }
        guard let rank = (0..<queues.count).first(where: { heads[$0] < queues[$0].count }) else {
          lock.wait(untilMilliseconds: dirty.isEmpty ? nil : now + 500)
          return nil
        }
        let path = popFirst(rank)
        guard let change = dirty[path] else { return nil }
        return .some((path, change, rank))
      }
      if let next { return .some(next) }
    }
  }

  private func popFirst(_ rank: Int) -> String {
    let path = queues[rank][heads[rank]]
    heads[rank] += 1
    if heads[rank] > 4096 && heads[rank] * 2 > queues[rank].count {
      queues[rank].removeFirst(heads[rank])
      heads[rank] = 0
    }
    queued.remove(path)
    return path
  }

  /// Puts `path` back at the front of its rank (a failed or held-back attempt).
  private func requeueFirst(_ path: String, rank: Int) {
    if queued.contains(path), let index = queues[rank][heads[rank]...].firstIndex(of: path) {
      queues[rank].remove(at: index)
    }
    queued.insert(path)
    if heads[rank] > 0 {
      heads[rank] -= 1
      queues[rank][heads[rank]] = path
    } else {
      queues[rank].insert(path, at: 0)
    }
  }

  /// Puts the current content of `path`, or deletes its object when the outbox no longer has it.
  private func attempt(_ next: (path: String, change: Int, rank: Int)) {
    let descriptor = open("\(outbox)/\(next.path)", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
    let missing = descriptor < 0 && (errno == ENOENT || errno == ENOTDIR)
    if descriptor < 0 && !missing {
      return finish(next, error: "cannot read \(next.path): \(String(cString: strerror(errno)))")
    }
    defer { if descriptor >= 0 { close(descriptor) } }
    var info = stat()
    if descriptor >= 0 && (fstat(descriptor, &info) != 0 || info.st_mode & S_IFMT != S_IFREG) {
      return finish(next, error: nil)  // not a file: nothing to publish
    }
    // Opened first, checked second: what the opened content points to is already announced.
    let heldBack = lock.withLock {
      guard (0..<next.rank).contains(where: { heads[$0] < queues[$0].count }) else { return false }
      requeueFirst(next.path, rank: next.rank)
      return true
    }
    if heldBack { return }
    do {
      if missing {
        try bucket.delete(path: next.path)
      } else if Int64(info.st_size) > Int64(target.partSize) {
        // In parts, streamed from the file; given up (and aborted) at a shutdown or when the file is no
        // longer the one at its path (withdrawn, expired, replaced): its change is queued again.
        let identity = (info.st_dev, info.st_ino)
        let completed = try bucket.putInParts(
          path: next.path, descriptor: descriptor, size: Int64(info.st_size), partSize: target.partSize,
          contentType: SiteHeaders.contentType(for: next.path),
          cacheControl: SiteHeaders.cacheControl(for: next.path)
        ) {
          var now = stat()
          let same =
            stat("\(outbox)/\(next.path)", &now) == 0 && now.st_dev == identity.0 && now.st_ino == identity.1
          return same && !lock.withLock { stopping }
        }
        if !completed { return lock.withLock { requeueFirst(next.path, rank: next.rank) } }
      } else {
        try bucket.put(
          path: next.path, descriptor: descriptor, size: Int64(info.st_size),
          contentType: SiteHeaders.contentType(for: next.path),
          cacheControl: SiteHeaders.cacheControl(for: next.path))
      }
      finish(next, error: nil)
    } catch {
      finish(next, error: "\(missing ? "DELETE" : "PUT") \(next.path): \(error.description)")
    }
  }

  private func finish(_ next: (path: String, change: Int, rank: Int), error: String?) {
    if let error {
      lock.withLock { requeueFirst(next.path, rank: next.rank) }
      failed(error, what: "cannot publish to the bucket")
    } else {
      let recovered = lock.withLock { () -> Bool in
        published += 1
        if dirty[next.path] == next.change { dirty[next.path] = nil }
        defer {
          failures = 0
          lastError = nil
          retryAt = 0
        }
        return lastError != nil
      }
      lock.broadcast()  // a runner may wait for this file (waitUntilPublished)
      if recovered { logger.notice("publishing to the bucket again", metadata: ["publish": "\(target)"]) }
    }
    writeStatus(force: false)
  }

  /// Records a failed call: the next waits 0.1 s, doubling up to 5 s. The first of a run is logged.
  private func failed(_ reason: String, what: String) {
    let first = lock.withLock { () -> Bool in
      failures += 1
      retryAt = ConditionLock.monotonicMilliseconds() + min(5000, 100 << min(failures - 1, 6))
      defer { lastError = reason }
      return lastError == nil
    }
    if first {
      logger.warning(
        "\(what); will retry (jobs go on)",
        metadata: ["publish": "\(target)", "error": "\(reason)"])
    }
    writeStatus(force: false)
  }

  // MARK: Resync

  /// Lists the bucket, compares it with the outbox and queues every difference.
  private func resync() throws(S3Failure) {
    // Uploads in parts a process killed mid-way left unfinished (billed, never visible): aborted.
    let aborted = try bucket.abortUnfinishedUploads()
    if aborted > 0 {
      logger.notice(
        "unfinished multipart uploads aborted", metadata: ["publish": "\(target)", "uploads": "\(aborted)"])
    }
    let remote = try bucket.list()
    var local = Set<String>()
    var differ: [String] = []
    walk("") { path, descriptor, size in
      local.insert(path)
      // An object put in parts has the ETag of its parts' MD5s.
      let etag =
        size > Int64(target.partSize)
        ? MD5Digest.multipartETag(of: descriptor, size: size, partSize: Int64(target.partSize))
        : MD5Digest.hex(of: descriptor)
      guard let object = remote[path], object.size == size, object.etag == etag
      else {
        differ.append(path)
        return
      }
    }
    let documents = lock.withLock { publishesDocuments }
    let extra = remote.keys.filter { path in
      guard !local.contains(path) else { return false }
      guard sharesBucket else { return true }
      // Several nodes: only the node that puts the documents deletes, and another node's export file
      // only once its job is gone (no document of it here).
      guard documents else { return false }
      let parts = SiteHeaders.withinSite(path)
      guard BucketMirror.rank(of: path) == 0, parts.count >= 3 else { return true }
      let site = path.dropLast(parts.joined(separator: "/").count)
      return !local.contains("\(site)jobs/\(parts[1]).json")
    }
    lock.withLock {
      for path in differ + extra { markDirty(path) }
      resynced = true
    }
    logger.info(
      "bucket compared with the outbox",
      metadata: [
        "publish": "\(target)", "objects": "\(remote.count)", "files": "\(local.count)",
        "to.put": "\(differ.count)", "to.delete": "\(extra.count)",
      ])
    writeStatus(force: true)
  }

  /// Calls `visit` with every regular file under the outbox folder `relative` (dot-files such as temp
  /// files left out), opened.
  private func walk(_ relative: String, _ visit: (String, Int32, Int64) -> Void) {
    guard let directory = try? DirectoryHandle(path: relative.isEmpty ? outbox : "\(outbox)/\(relative)"),
      let names = try? directory.entries()
    else { return }
    for name in names where !name.hasPrefix(".") {
      let path = relative.isEmpty ? name.display : "\(relative)/\(name.display)"
      guard let info = try? directory.status(of: name) else { continue }
      switch info.st_mode & S_IFMT {
      case S_IFDIR:
        walk(path, visit)
      case S_IFREG:
        guard let file = try? directory.openFile(name, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK) else {
          continue
        }
        visit(path, file.raw, Int64(info.st_size))
      default:
        continue
      }
    }
  }

  // MARK: A batch run

  /// For `jobdrop process`: the resync and every change once, in order, in the calling thread, stopping
  /// at the first failure (the next start's resync takes it up); returns how many changes are left.
  @discardableResult
  public func publishOnce() -> Int {
    do {
      try resync()
    } catch {
      failed(error.description, what: "cannot list the bucket")
      return waiting
    }
    while true {
      let next: (path: String, change: Int, rank: Int)? = lock.withLock {
        guard let rank = (0..<queues.count).first(where: { heads[$0] < queues[$0].count }) else { return nil }
        let path = popFirst(rank)
        return dirty[path].map { (path, $0, rank) }
      }
      guard let next else {
        if lock.withLock({ heads.indices.allSatisfy { heads[$0] >= queues[$0].count } }) { break }
        continue
      }
      attempt(next)
      if lock.withLock({ lastError != nil }) { break }
    }
    writeStatus(force: true)
    return waiting
  }

  // MARK: Status

  /// Writes `publishing.json` into the spool when what it says changed: at once when the queue drains or
  /// the error changes (or `force`), else at most every 500 ms.
  private func writeStatus(force: Bool) {
    let now = ConditionLock.monotonicMilliseconds()
    let status = lock.withLock {
      PublishingStatus(
        target: target.description, waiting: dirty.count, published: published, resynced: resynced,
        lastError: lastError, updatedAt: "")
    }
    guard let written else { return save(status, at: now) }
    var compared = written
    compared.updatedAt = ""
    guard compared != status else { return }
    let urgent =
      force || status.waiting == 0 || status.lastError != written.lastError
      || status.resynced != written.resynced
    if urgent || now - writtenAt >= 500 { save(status, at: now) }
  }

  private func save(_ status: PublishingStatus, at now: Int64) {
    var status = status
    status.updatedAt = Timestamp.now().rfc3339
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let bytes = try? encoder.encode(status) else { return }
    // A view for `jobdrop status`, rewritten as it changes: not fsynced.
    try? AtomicWriter.write(
      Array(bytes) + [0x0A], to: PublishingStatus.fileName, in: spool, mode: 0o600, syncDirectory: false,
      syncFile: false)
    written = status
    writtenAt = now
  }
}
