import JobdropSystem

/// Lets async code stop and wake a dedicated thread that sleeps between rounds of work.
///
/// A wake that arrives while the thread is busy is remembered, so the next ``sleep(untilMilliseconds:)``
/// returns at once: no work is missed between checking for it and going to sleep.
// @unchecked: `stopped` and `woken` are only touched under `lock` (a ConditionLock, not a Mutex: threads wait on it for a change).
public final class ThreadControl: @unchecked Sendable {
  private let lock = ConditionLock()
  private var stopped = false
  private var woken = false

  public init() {}

  /// Whether ``stop()`` has been called.
  public var isStopped: Bool { lock.withLock { stopped } }

  /// Asks the thread to finish its current step and return.
  public func stop() {
    lock.withLock { stopped = true }
    lock.broadcast()
  }

  /// Wakes the thread if it sleeps, or makes its next sleep return at once.
  public func wake() {
    lock.withLock { woken = true }
    lock.broadcast()
  }

  /// Sleeps until woken, stopped, or the monotonic clock reaches `deadline`; returns `false` once stopped.
  public func sleep(untilMilliseconds deadline: Int64?) -> Bool {
    lock.withLock {
      while !stopped && !woken {
        if let deadline, ConditionLock.monotonicMilliseconds() >= deadline { break }
        lock.wait(untilMilliseconds: deadline)
      }
      woken = false
      return !stopped
    }
  }
}
