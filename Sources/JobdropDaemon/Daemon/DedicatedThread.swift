import JobdropSystem
import Logging
import ServiceLifecycle

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
          JoinableThread.nameCurrentThread(work.name)
          work.body()
          return nil
        }, Unmanaged.passRetained(work).toOpaque())
      precondition(result == 0, "pthread_create failed: \(result)")
      pthread_detach(thread)
    }
  }

  // @unchecked: handed to exactly one new thread, which is its only user (nothing to lock).
  private final class Work: @unchecked Sendable {
    let name: String
    let body: () -> Void

    init(name: String, body: @escaping () -> Void) {
      self.name = name
      self.body = body
    }
  }
}

extension DedicatedThread {
  /// Runs a service's blocking loop on its own thread until it returns: `stop` is called on graceful
  /// shutdown or cancellation; an error the loop throws is logged (as `what` stopped) and rethrown, which
  /// stops the service group.
  static func runService(
    name: String, what: String, logger: Logger, stop: @escaping @Sendable () -> Void,
    _ body: @escaping @Sendable () throws -> Void
  ) async throws {
    let outcome = Outcome()
    await withTaskCancellationOrGracefulShutdownHandler {
      await DedicatedThread.run(name: name) {
        do { try body() } catch { outcome.set(error) }
      }
    } onCancelOrGracefulShutdown: {
      stop()
    }
    if let error = outcome.error {
      logger.error("\(what) stopped", metadata: ["error": "\(error)"])
      throw error
    }
  }
}

/// The error a dedicated thread ended with, handed back to async code.
// @unchecked: the error is only touched under `lock` (not a Mutex: it hands out an `any Error`, which is
// not Sendable).
final class Outcome: @unchecked Sendable {
  private let lock = ConditionLock()
  private var stored: (any Error)?

  func set(_ error: any Error) { lock.withLock { stored = error } }
  var error: (any Error)? { lock.withLock { stored } }
}
