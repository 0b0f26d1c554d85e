import JobdropSystem

/// Stops one running export from another thread: the source registers how to interrupt what it runs
/// (`sqlite3_interrupt` on its connections, `PQcancel` on its server connection), and ``cancel()`` calls
/// it, so a query that has produced no row yet stops too. The row loop's own checks stay the way a
/// cancelled export is noticed between rows.
// @unchecked: `cancelled` and `interrupt` are only touched under `lock`.
public final class ExportCancellation: @unchecked Sendable {
  private let lock = ConditionLock()
  private var cancelled = false
  private var interrupt: (@Sendable () -> Void)?

  public init() {}

  /// Interrupts the export now (and at once any that registers later).
  public func cancel() {
    let call = lock.withLock {
      cancelled = true
      return interrupt
    }
    call?()
  }

  public var isCancelled: Bool { lock.withLock { cancelled } }

  /// Interrupts again if the export was cancelled: for a source to call once its query is on its way,
  /// as an interrupt that came before the query started may have found nothing to stop.
  func recheck() {
    let call = lock.withLock { cancelled ? interrupt : nil }
    call?()
  }

  /// Runs `body` with `interrupt` registered as the way to stop it.
  func whileRunning<T>(interrupt: @escaping @Sendable () -> Void, _ body: () throws -> T) throws -> T {
    let already = lock.withLock {
      self.interrupt = interrupt
      return cancelled
    }
    defer { lock.withLock { self.interrupt = nil } }
    if already { interrupt() }
    return try body()
  }
}

/// C handles a registered interrupt may use from another thread (`sqlite3_interrupt` and `PQcancel` are
/// documented as safe to call so).
struct InterruptibleHandles: @unchecked Sendable {
  var handles: [OpaquePointer]
}
