import JobdropState
import JobdropSystem
import Logging
import ServiceLifecycle

/// Makes the standing requests' runs on its own thread: it sleeps until the earliest schedule is due (a
/// timer, no polling), and is woken when a schedule is registered or ended and when a run finishes (its
/// schedule's record and documents follow at once). With several nodes it also reads the shared table
/// every second, for schedules other nodes registered and runs they finished.
public struct SchedulerService: Service {
  let schedules: Schedules
  /// The runners' control: woken when a run is made.
  let runners: ThreadControl
  let logger: Logger

  public init(schedules: Schedules, runners: ThreadControl, logger: Logger) {
    self.schedules = schedules
    self.runners = runners
    self.logger = logger
  }

  public func run() async throws {
    let control = ThreadControl()
    try await DedicatedThread.runService(
      name: "jobdrop-scheduler", what: "scheduler", logger: logger, stop: control.stop
    ) { [schedules, runners] in
      schedules.store.onRunFinished { control.wake() }
      schedules.onChange { control.wake() }
      while true {
        if schedules.runDue() > 0 { runners.wake() }
        // The wall clock sets the times; the wait is on the monotonic one.
        var deadline = schedules.nextDue.map {
          ConditionLock.monotonicMilliseconds()
            + max(0, $0.milliseconds - schedules.store.clock.now().milliseconds)
        }
        if schedules.isShared {
          deadline = min(deadline ?? .max, ConditionLock.monotonicMilliseconds() + 1000)
        }
        guard control.sleep(untilMilliseconds: deadline) else { break }
      }
    }
  }
}
