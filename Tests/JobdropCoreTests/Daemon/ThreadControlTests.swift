import Testing

@testable import JobdropDaemon
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct ThreadControlTests {
  @Test func aWakeBeforeTheSleepIsNotLost() {
    let control = ThreadControl()
    control.wake()
    // Would sleep an hour if the wake had been lost.
    #expect(control.sleep(untilMilliseconds: ConditionLock.monotonicMilliseconds() + 3_600_000))
  }

  @Test func aStoppedControlNeverSleeps() {
    let control = ThreadControl()
    control.stop()
    #expect(!control.sleep(untilMilliseconds: nil))
    #expect(control.isStopped)
  }

  @Test func aWakeFromAnotherThreadEndsTheSleep() {
    let control = ThreadControl()
    let thread = JoinableThread(name: "test-wake") { control.wake() }
    #expect(control.sleep(untilMilliseconds: ConditionLock.monotonicMilliseconds() + 3_600_000))
    thread.join()
  }
}
