import JobdropExport
import JobdropState
import JobdropSystem
import Logging
import ServiceLifecycle

/// Runs pending jobs, oldest first, on `workers` dedicated threads.
///
/// At shutdown the threads stop taking jobs; a job in the middle of its export is abandoned (its temp
/// file removed) and goes back to `pending`, so it runs again on the next start.
public struct RunnerService: Service {
  let runner: JobRunner
  let workers: Int
  /// Woken by the intake when it claims a job.
  public let control: ThreadControl
  let logger: Logger

  public init(runner: JobRunner, workers: Int, control: ThreadControl, logger: Logger) {
    self.runner = runner
    self.workers = workers
    self.control = control
    self.logger = logger
  }

  public func run() async throws {
    let outcome = Outcome()
    await withTaskCancellationOrGracefulShutdownHandler {
      await withTaskGroup(of: Void.self) { group in
        for worker in 0..<workers {
          group.addTask {
            await DedicatedThread.run(name: "jobdrop-run-\(worker)") {
              do {
                try loop()
              } catch {
                // The spool cannot record jobs: stop every worker now, not at shutdown.
                outcome.set(error)
                control.stop()
              }
            }
          }
        }
      }
    } onCancelOrGracefulShutdown: {
      control.stop()
      runner.interruptRunning()  // a query that has produced no row yet stops too
    }
    await DedicatedThread.run(name: "jobdrop-commit") { runner.committer.stop() }
    if let error = outcome.error {
      logger.error("job runner stopped", metadata: ["error": "\(error)"])
      throw error
    }
  }

  private func loop() throws {
    var wait: Int64 = 100
    while !control.isStopped {
      let ran: Job?
      do {
        // Outcomes are made durable in groups by the runner's committer (stopped with the service).
        ran = try runner.runNext(shouldStop: { control.isStopped }, grouped: true)
        wait = 100
      } catch  where JobStore.isTransient(error) {
        // A full or failing spool disk, or a shared table out of reach: the job stays pending; try again
        // shortly.
        logger.warning("cannot start a job; retrying", metadata: ["error": "\(error)"])
        guard control.sleep(untilMilliseconds: ConditionLock.monotonicMilliseconds() + wait) else { return }
        wait = min(wait * 2, 5_000)
        continue
      }
      if ran != nil {
        control.wake()  // another worker may take the next one
        continue
      }
      // Sleep until woken, or until a job waiting to retry may start.
      let deadline = runner.store.nextRetry().map {
        ConditionLock.monotonicMilliseconds()
          + max(0, $0.milliseconds - runner.store.clock.now().milliseconds)
      }
      guard control.sleep(untilMilliseconds: deadline) else { return }
    }
  }
}
