import JobdropSystem
import Synchronization

/// What the watcher hands the intake thread: a name to look at, or a reason to scan the whole inbox.
public enum InboxWork: Sendable, Equatable {
  /// An entry of a drop folder changed, and how; the folder is its partner's (`nil`: the inbox itself).
  case look(partner: String?, FileName, Arrival)
  /// Scan everything (start, queue overflow, a new folder, safety-net timer).
  case rescan(String)
  /// The partners file was written or replaced: read it again.
  case partnersChanged
}

/// What the watcher saw happen to an inbox entry.
public enum Arrival: Sendable, Equatable {
  /// Its writer closed it (`IN_CLOSE_WRITE`): complete, or cut short for good.
  case closed
  /// It was renamed in (`IN_MOVED_TO`): complete.
  case moved
  /// It appeared (`IN_CREATE`) alone: a hard link (complete, no writer), or a file a writer just created.
  case created
  /// Its writer wrote to it (`IN_MODIFY`): it is not to be judged until the writer closes it.
  case written
}

/// A thread-safe queue of ``InboxWork`` between the watch thread and the intake thread.
public final class InboxMailbox: Sendable {
  private let items = Mutex<[InboxWork]>([])
  /// Wakes the intake thread when work is posted.
  public let control = ThreadControl()

  public init() {}

  /// Adds work and wakes the intake thread.
  public func post(_ work: InboxWork) {
    items.withLock { $0.append(work) }
    control.wake()
  }

  /// Takes everything posted so far.
  public func drain() -> [InboxWork] {
    items.withLock { items in
      defer { items.removeAll(keepingCapacity: true) }
      return items
    }
  }
}
