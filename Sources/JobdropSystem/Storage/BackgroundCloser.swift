#if canImport(Glibc)
  import Glibc
#endif

/// Closes files on a thread of its own, for a writer that should not wait for what the last close of a
/// file it replaced or removed does.
///
/// A file renamed over loses its last name, and its blocks are freed when nothing holds it open: in the
/// `rename` itself, or in the last `close` of a descriptor on it. On a file system mounted with
/// `discard`, freeing blocks waits for the device to discard them (about a millisecond here for an
/// 11 MB `index.json`, and again for `index.html`, in every render). A writer that opens the file it is
/// about to replace and hands the descriptor here has that wait, and the rest of the freeing, done on
/// this thread instead (``AtomicWriter``'s `freeReplacedInBackground`; an expired job's export files,
/// ``DirectoryHandle/removeTree(_:freeingLargeFilesInBackground:)``).
///
/// At most ``limit`` descriptors wait: past that, the caller closes its own (the device is behind, and
/// holding more would keep more replaced files' blocks in use). The thread starts at the first use and
/// lives as long as the process; descriptors still waiting at exit are closed by the exit.
// @unchecked: `waiting`, `closing` and `thread` are read and written under `lock` (a ConditionLock, not a Mutex: threads wait on it for a change).
public final class BackgroundCloser: @unchecked Sendable {
  /// The process's closer.
  public static let shared = BackgroundCloser()

  /// The most descriptors waiting to be closed.
  public static let limit = 64

  /// The size from which a removed file is worth freeing here: freeing a megabyte took 0.9 ms on this
  /// file system, a 4 KB file 0.3 ms (less than opening it and handing it over saves).
  public static let largeFile = 1 << 20

  private let lock = ConditionLock()
  private var waiting: [Int32] = []
  /// Whether the thread is closing a batch it took from `waiting`.
  private var closing = false
  private var thread: JoinableThread?

  private init() {}

  /// Closes `descriptor` soon, on the closer's thread (or now, when ``limit`` are waiting already).
  public func close(_ descriptor: consuming FileDescriptor) {
    let raw = descriptor.relinquish()
    let queued = lock.withLock {
      guard waiting.count < BackgroundCloser.limit else { return false }
      waiting.append(raw)
      if thread == nil { thread = JoinableThread(name: "jobdrop-close") { [self] in run() } }
      return true
    }
    if queued {
      lock.broadcast()
    } else {
      Glibc.close(raw)
    }
  }

  /// Returns once every descriptor handed over so far is closed.
  public func waitUntilIdle() {
    lock.withLock {
      while !waiting.isEmpty || closing { lock.wait(untilMilliseconds: nil) }
    }
  }

  private func run() {
    while true {
      let batch = lock.withLock {
        while waiting.isEmpty { lock.wait(untilMilliseconds: nil) }
        closing = true
        defer { waiting.removeAll(keepingCapacity: true) }
        return waiting
      }
      for raw in batch { Glibc.close(raw) }
      lock.withLock { closing = false }
      lock.broadcast()
    }
  }
}
