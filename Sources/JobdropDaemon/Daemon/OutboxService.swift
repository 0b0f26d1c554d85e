import JobdropState
import JobdropSystem
import Logging
import ServiceLifecycle

/// Renders `index.json` on its own thread as soon as the store says an index is out of date (a burst
/// coalesces: see ``JobStore/publishIndex(force:)``), sweeps expired jobs every ``expiryInterval``, and
/// retries documents a full disk refused. Renders a last time at shutdown.
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
    ) { [store, expiryInterval, logger] in
      store.onIndexChange { control.wake() }
      var nextSweep = ConditionLock.monotonicMilliseconds()
      var failing = false
      while true {
        let now = ConditionLock.monotonicMilliseconds()
        // Nothing here stops the daemon: the spool holds the truth, and what the outbox could not take
        // (a full disk) is written on a later round.
        do {
          if now >= nextSweep {
            try store.expire(now: store.clock.now())
            // Jobs claimed, run and expired on several threads leave free memory in each thread's heap
            // arena: given back once a sweep, so the resident size follows the live jobs down.
            Heap.trim()
            nextSweep = now + expiryInterval
          }
          let waiting = store.republish()
          try store.publishIndex(force: failing)
          if failing && waiting == 0 { logger.notice("the outbox is written again") }
          failing = waiting > 0
        } catch {
          if !failing {
            logger.warning("cannot write the outbox; will retry", metadata: ["error": "\(error)"])
          }
          failing = true
        }
        let next = min(nextSweep, failing ? now + 1_000 : store.nextIndexRender() ?? .max)
        guard control.sleep(untilMilliseconds: next) else { break }
      }
      do {
        try store.publishIndex(force: true)
      } catch {
        logger.warning("cannot write the last index", metadata: ["error": "\(error)"])
      }
    }
  }
}
