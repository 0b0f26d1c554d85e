#if canImport(Glibc)
  import Glibc
#endif

/// An OS thread running `body`, for blocking work that some caller waits for with ``join()``.
// @unchecked: the pthread handle is written once at start and read by join.
package final class JoinableThread: @unchecked Sendable {
  private var thread = pthread_t()
  private let body: () -> Void
  private var joined = false

  /// Starts `body` on a new thread at once.
  package init(_ body: @escaping () -> Void) {
    self.body = body
    let result = pthread_create(
      &thread, nil,
      { raw in
        Unmanaged<JoinableThread>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
      }, Unmanaged.passRetained(self).toOpaque())
    precondition(result == 0, "pthread_create failed: \(result)")
  }

  /// Waits until `body` has returned; later calls return at once.
  package func join() {
    guard !joined else { return }
    pthread_join(thread, nil)
    joined = true
  }
}
