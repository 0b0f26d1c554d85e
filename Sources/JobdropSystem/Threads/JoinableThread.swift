import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// An OS thread running `body`, for blocking work that some caller waits for with ``join()``.
// @unchecked: the pthread handle is written once at start and read by join (nothing to lock).
package final class JoinableThread: @unchecked Sendable {
  private var thread = pthread_t()
  private let body: () -> Void
  private var joined = false

  /// Starts `body` on a new thread at once, named `name` (see ``nameCurrentThread(_:)``).
  package init(name: String, _ body: @escaping () -> Void) {
    self.body = { [name] in
      JoinableThread.nameCurrentThread(name)
      body()
    }
    let result = pthread_create(
      &thread, nil,
      { raw in
        Unmanaged<JoinableThread>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
      }, Unmanaged.passRetained(self).toOpaque())
    precondition(result == 0, "pthread_create failed: \(result)")
  }

  /// Names the calling thread as `ps -L`, `top -H` and `/proc/<pid>/task/<tid>/comm` show it: the first
  /// 15 bytes of `name` (the kernel's limit).
  package static func nameCurrentThread(_ name: String) {
    _ = jobdrop_name_thread(String(decoding: name.utf8.prefix(15), as: UTF8.self))
  }

  /// Waits until `body` has returned; later calls return at once.
  package func join() {
    guard !joined else { return }
    pthread_join(thread, nil)
    joined = true
  }
}
