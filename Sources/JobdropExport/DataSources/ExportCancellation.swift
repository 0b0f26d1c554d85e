import JobdropSystem
import Synchronization

/// Stops one running export from another thread: the source registers how to interrupt what it runs
/// (`sqlite3_interrupt` on its connections, `PQcancel` on its server connection), and ``cancel()`` calls
/// it, so a query that has produced no row yet stops too. The row loop's own checks stay the way a
/// cancelled export is noticed between rows.
public final class ExportCancellation: Sendable {
  private let state = Mutex<(cancelled: Bool, interrupt: (@Sendable () -> Void)?)>((false, nil))

  public init() {}

  /// Interrupts the export now (and at once any that registers later).
  public func cancel() {
    let call = state.withLock {
      $0.cancelled = true
      return $0.interrupt
    }
    call?()
  }

  public var isCancelled: Bool { state.withLock { $0.cancelled } }

  /// Interrupts again if the export was cancelled: for a source to call once its query is on its way,
  /// as an interrupt that came before the query started may have found nothing to stop.
  func recheck() {
    let call = state.withLock { $0.cancelled ? $0.interrupt : nil }
    call?()
  }

  /// Runs `body` with `interrupt` registered as the way to stop it.
  func whileRunning<T>(interrupt: @escaping @Sendable () -> Void, _ body: () throws -> T) throws -> T {
    let already = state.withLock {
      $0.interrupt = interrupt
      return $0.cancelled
    }
    defer { state.withLock { $0.interrupt = nil } }
    if already { interrupt() }
    return try body()
  }
}

/// C handles a registered interrupt may use from another thread (`sqlite3_interrupt` and `PQcancel` are
/// documented as safe to call so).
// @unchecked: C pointers the compiler cannot see as Sendable; immutable, nothing to lock.
struct InterruptibleHandles: @unchecked Sendable {
  var handles: [OpaquePointer]
}
