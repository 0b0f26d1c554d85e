import Logging
import ServiceLifecycle

/// Renders `index.json` at most once per the store's index interval while jobs change, and sweeps
/// expired jobs every ``expiryInterval``, on its own thread. Renders a last time at shutdown.
public struct OutboxService: Service {
  let store: JobStore
  let logger: Logger
  /// Milliseconds between expiry sweeps.
  public var expiryInterval: Int64 = 60_000

  public init(store: JobStore, logger: Logger) {
    self.store = store
    self.logger = logger
  }

  public func run() async throws {
    let control = ThreadControl()
    try await DedicatedThread.runService(
      name: "jobdrop-outbox", what: "outbox renderer", logger: logger, stop: control.stop
    ) { [store, expiryInterval] in
      var nextSweep = ConditionLock.monotonicMilliseconds()
      while true {
        let now = ConditionLock.monotonicMilliseconds()
        if now >= nextSweep {
          try store.expire(now: .now())
          nextSweep = now + expiryInterval
        }
        try store.publishIndex()
        guard control.sleep(untilMilliseconds: min(nextSweep, now + store.indexInterval)) else { break }
      }
      try store.publishIndex(force: true)
    }
  }
}
