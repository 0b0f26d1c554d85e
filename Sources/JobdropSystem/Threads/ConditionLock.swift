#if canImport(Glibc)
  import Glibc
#endif

/// A mutex with a condition variable, for the daemon's dedicated threads to sleep until work arrives.
///
/// ``wait(untilMilliseconds:)`` must be called inside ``withLock(_:)``'s body.
// @unchecked: a pthread mutex and condition, which exist to be shared (what a Mutex lacks: a condition).
public final class ConditionLock: @unchecked Sendable {
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let condition: UnsafeMutablePointer<pthread_cond_t>

  public init() {
    mutex = .allocate(capacity: 1)
    condition = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    var attributes = pthread_condattr_t()
    pthread_condattr_init(&attributes)
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
    pthread_cond_init(condition, &attributes)
    pthread_condattr_destroy(&attributes)
  }

  deinit {
    pthread_cond_destroy(condition)
    pthread_mutex_destroy(mutex)
    condition.deallocate()
    mutex.deallocate()
  }

  /// Runs `body` holding the mutex.
  public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body()
  }

  /// Runs `body` holding the mutex, then `after` holding `next`'s, which is taken before this one is
  /// released (hand over hand): `after` starts before anything another thread does under this mutex
  /// once `body` is done, so work prepared in order under this mutex is finished in that order under
  /// `next`, without holding this one.
  public func withLock<T, U, E: Error>(
    _ body: () throws(E) -> T, handingOverTo next: ConditionLock, _ after: (T) throws(E) -> U
  ) throws(E) -> U {
    pthread_mutex_lock(mutex)
    let value: T
    do {
      value = try body()
    } catch {
      pthread_mutex_unlock(mutex)
      throw error
    }
    pthread_mutex_lock(next.mutex)
    pthread_mutex_unlock(mutex)
    defer { pthread_mutex_unlock(next.mutex) }
    return try after(value)
  }

  /// Wakes every thread waiting in ``wait(untilMilliseconds:)``.
  public func broadcast() {
    pthread_mutex_lock(mutex)
    pthread_cond_broadcast(condition)
    pthread_mutex_unlock(mutex)
  }

  /// Sleeps until woken or until the monotonic clock reaches `deadline` (milliseconds; `nil` for no limit).
  /// Call with the mutex held.
  public func wait(untilMilliseconds deadline: Int64?) {
    guard let deadline else {
      pthread_cond_wait(condition, mutex)
      return
    }
    var time = timespec(tv_sec: Int(deadline / 1000), tv_nsec: Int(deadline % 1000) * 1_000_000)
    pthread_cond_timedwait(condition, mutex, &time)
  }

  /// Milliseconds on the monotonic clock, for deadlines.
  public static func monotonicMilliseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
  }
}
