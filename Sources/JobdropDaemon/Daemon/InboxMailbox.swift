import JobdropSystem

/// What the watcher hands the intake thread: a name to look at, or a reason to scan the whole inbox.
public enum InboxWork: Sendable, Equatable {
  /// An entry changed; `settle` when it appeared by `IN_CREATE` only (a hard link, or a file still
  /// being written), so it is taken once it is complete or has been quiet for the settle time.
  case look(FileName, settle: Bool)
  /// Scan everything (start, queue overflow, safety-net timer).
  case rescan(String)
}

/// A thread-safe queue of ``InboxWork`` between the watch thread and the intake thread.
// @unchecked: the queue is only touched under its lock.
public final class InboxMailbox: @unchecked Sendable {
  private let lock = ConditionLock()
  private var items: [InboxWork] = []
  /// Wakes the intake thread when work is posted.
  public let control = ThreadControl()

  public init() {}

  /// Adds work and wakes the intake thread.
  public func post(_ work: InboxWork) {
    lock.withLock { items.append(work) }
    control.wake()
  }

  /// Takes everything posted so far.
  public func drain() -> [InboxWork] {
    lock.withLock {
      defer { items.removeAll(keepingCapacity: true) }
      return items
    }
  }
}
