import Synchronization

/// The one clock jobdrop's decisions read: wall time (``now()``) for what is stored and published (job
/// times, retry times, leases, expiry, schedules) and monotonic time (``monotonicMilliseconds()``) for
/// spans (the grace and settle times, commit delays).
///
/// The daemon uses ``system``. A test makes a ``manual(at:)`` clock and moves it with
/// ``advance(milliseconds:)``, so expiry, retries, grace and leases are tested without waiting for them.
/// Threads still sleep on the real monotonic clock; a manual clock only changes what is due when asked.
public final class ServiceClock: Sendable {
  /// Whether this is the system's clock.
  public let isSystem: Bool
  /// A manual clock's readings (unused by the system's clock).
  private let readings: Mutex<(wall: Int64, monotonic: Int64)>

  private init(manual: (wall: Int64, monotonic: Int64)?) {
    isSystem = manual == nil
    readings = Mutex(manual ?? (0, 0))
  }

  /// The system's clocks (in a debug build, the wall clock moved by `JOBDROP_CLOCK_SKEW`).
  public static let system = ServiceClock(manual: nil)

  /// A clock that shows `start` until moved.
  public static func manual(at start: Timestamp) -> ServiceClock {
    ServiceClock(manual: (start.milliseconds, 1_000_000))
  }

  /// The current wall time.
  public func now() -> Timestamp {
    if isSystem { return .now() }
    return Timestamp(milliseconds: readings.withLock { $0.wall })
  }

  /// Milliseconds on the monotonic clock (never goes back; only spans between readings mean anything).
  public func monotonicMilliseconds() -> Int64 {
    if isSystem { return ConditionLock.monotonicMilliseconds() }
    return readings.withLock { $0.monotonic }
  }

  /// Moves a manual clock forward (both readings). A no-op on the system's clock.
  public func advance(milliseconds: Int64) {
    guard !isSystem else { return }
    readings.withLock {
      $0.wall += milliseconds
      $0.monotonic += milliseconds
    }
  }

  /// Moves a manual clock forward by `seconds`.
  public func advance(seconds: Int64) { advance(milliseconds: seconds * 1000) }
}
