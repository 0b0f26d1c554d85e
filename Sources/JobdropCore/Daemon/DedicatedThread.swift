#if canImport(Glibc)
  import Glibc
#endif

/// Runs blocking work (C calls, file I/O, SQLite) on its own OS thread, never on Swift's cooperative
/// pool, and lets async code await its end.
public enum DedicatedThread {
  /// Starts `body` on a new thread and returns when it has finished.
  public static func run(name: String, _ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let work = Work(name: name) {
        body()
        continuation.resume()
      }
      var thread = pthread_t()
      let result = pthread_create(
        &thread, nil,
        { raw in
          let work = Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue()
          work.body()
          return nil
        }, Unmanaged.passRetained(work).toOpaque())
      precondition(result == 0, "pthread_create failed: \(result)")
      pthread_detach(thread)
    }
  }

  private final class Work: @unchecked Sendable {
    let name: String
    let body: () -> Void

    init(name: String, body: @escaping () -> Void) {
      self.name = name
      self.body = body
    }
  }
}
