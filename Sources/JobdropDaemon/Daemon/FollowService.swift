import JobdropState
import JobdropSystem
import Logging
import ServiceLifecycle

/// With a shared spool (``SharedJobBackend``): follows the job table on its own thread. Every change
/// another node makes is applied here as soon as it is announced (the table, this node's outbox, and a
/// runner woken for a new pending job); every third of a lease the leases of this node's running jobs
/// are renewed, lapsed leases of other nodes are reaped, and the index lock is tried (one node at a time
/// renders the index). Losing the database pauses this, never the daemon: it is retried each round.
public struct FollowService: Service {
  let store: JobStore
  /// The table the store's backend keeps its jobs in.
  let table: PostgresSpool
  let runners: ThreadControl
  /// The bucket this node publishes to: it puts the documents while this node renders the index.
  let mirror: BucketMirror?
  let logger: Logger

  public init(
    store: JobStore, table: PostgresSpool, runners: ThreadControl, mirror: BucketMirror?, logger: Logger
  ) {
    self.store = store
    self.table = table
    self.mirror = mirror
    self.runners = runners
    self.logger = logger
  }

  public func run() async throws {
    let shared = table
    let control = ThreadControl()
    try await DedicatedThread.runService(
      name: "jobdrop-follow", what: "shared spool follower", logger: logger, stop: control.stop
    ) { [store, runners, mirror, logger] in
      let round = Int64(shared.leaseSeconds) * 1000 / 3
      var nextRound: Int64 = 0
      var failing = false
      while !control.isStopped {
        do {
          let now = ConditionLock.monotonicMilliseconds()
          if now >= nextRound {
            try shared.renewLeases()
            if try store.reapLapsedLeases() > 0 { runners.wake() }
            // (Not inside `mirror?.…(…)`: without a bucket that would skip the call, and no index.)
            let rendersIndex = try store.checkIndexLock()
            mirror?.setPublishesDocuments(rendersIndex)
            nextRound = now + round
          }
          if try store.follow() { runners.wake() }
          if failing { logger.notice("the shared spool is reachable again") }
          failing = false
          _ = try shared.waitForChange(milliseconds: 500)
        } catch {
          if !failing {
            logger.warning("cannot follow the shared spool; will retry", metadata: ["error": "\(error)"])
          }
          failing = true
          nextRound = 0
          // A node cut off from the database may have lost the index lock with its connection: it
          // stops rendering until it holds the lock again.
          let rendersIndex = (try? store.checkIndexLock()) ?? false
          mirror?.setPublishesDocuments(rendersIndex)
          guard control.sleep(untilMilliseconds: ConditionLock.monotonicMilliseconds() + 1000) else { break }
        }
      }
    }
  }
}
