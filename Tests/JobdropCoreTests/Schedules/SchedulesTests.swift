import Logging
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

/// The schedules on a real spool and outbox, on a manual clock: when runs are made, which window each
/// takes, and what a crash between naming a run and claiming it leaves.
@Suite(.timeLimit(.minutes(10))) struct SchedulesTests {
  struct Setup {
    let store: JobStoreTests.Setup
    let schedules: Schedules
    let parser = RequestParser(catalog: .builtIn)

    init(store: JobStoreTests.Setup? = nil) throws {
      self.store = try store ?? JobStoreTests.Setup(clock: .manual(at: Timestamp(seconds: 1_800_000_000)))
      schedules = try Schedules(store: self.store.store, parser: parser, logger: Logger(label: "test"))
    }

    static let text =
      #"{"data": {"type": "job", "job_type": "order_export", "schedule": {"every": "1m"}, "window": {"field": "updated_at", "start": "2027-01-01", "lag": "0"}}}"#

    @discardableResult
    func register(_ text: String = Setup.text) throws -> ScheduleRecord {
      let request = try parser.read(Array(text.utf8))
      switch try schedules.register(
        name: "feed.json", partner: nil, bytes: Array(text.utf8), request: request)
      {
      case .created(let record), .replaced(let record, _): return record
      }
    }

    /// Starts the pending run and ends it in `state`.
    func finishRun(_ state: JobState) throws -> Job {
      let started = try #require(try store.store.startNextPending())
      return try store.store.move(started, to: state, record: started.record)
    }

    var clock: ServiceClock { store.clock }
  }

  @Test func aRunIsMadeAtItsTimeAndEachWindowStartsWhereTheLastSuccessEnded() throws {
    let setup = try Setup()
    let schedule = try setup.register()
    #expect(schedule.nextRunAt == setup.clock.now().adding(seconds: 60))
    setup.clock.advance(seconds: 59)
    #expect(setup.schedules.runDue() == 0, "not before its time")
    setup.clock.advance(seconds: 1)
    #expect(setup.schedules.runDue() == 1)
    let due = setup.clock.now()
    let first = try setup.finishRun(.success)
    #expect(
      first.id == ScheduleRecord.runID(schedule: schedule.id, at: due), "an id derived from schedule and time"
    )
    #expect(first.record.scheduleID == schedule.id)
    #expect(
      first.record.window == RunWindow(field: "updated_at", from: Timestamp(seconds: 1_798_761_600), to: due))
    setup.clock.advance(seconds: 60)
    #expect(setup.schedules.runDue() == 1)
    let second = try setup.finishRun(.success)
    #expect(second.record.window?.from == due, "where the last success ended")
    #expect(second.record.window?.to == setup.clock.now())
    #expect(setup.schedules.all.first?.windowEnd == due, "moved once the success is seen")
  }

  @Test func aLiveRunHoldsBackLaterTimesAndAFailedRunsWindowIsCoveredByTheNext() throws {
    let setup = try Setup()
    try setup.register()
    setup.clock.advance(seconds: 60)
    #expect(setup.schedules.runDue() == 1)
    let from = try #require(
      setup.store.store.job(id: setup.schedules.all[0].live!.jobID)?.record.window?.from)
    setup.clock.advance(seconds: 120)
    #expect(setup.schedules.runDue() == 0, "its run is still pending: no second one")
    #expect(setup.schedules.all.first?.nextRunAt == setup.clock.now().adding(seconds: 60))
    _ = try setup.finishRun(.failed)
    setup.clock.advance(seconds: 60)
    #expect(setup.schedules.runDue() == 1)
    let next = try setup.finishRun(.success)
    #expect(next.record.window?.from == from, "the failed run's window is covered")
    #expect(next.record.window?.to == setup.clock.now())
    setup.schedules.settleFinishedRuns()  // (the scheduler's thread does it when a run finishes)
    #expect(setup.schedules.all.first?.last?.status == .success)
  }

  /// The record names its live run before the job is claimed: a start that finds the name and no job
  /// claims it under the same id and window, once.
  @Test func aRunNamedButNotClaimedBeforeAStopIsMadeAtTheNextStartUnderItsId() throws {
    let setup = try Setup()
    var record = try setup.register()
    let run = ScheduleRecord.Run(
      jobID: ScheduleRecord.runID(schedule: record.id, at: setup.clock.now()), scheduledAt: setup.clock.now(),
      window: RunWindow(field: "updated_at", from: Timestamp(seconds: 1_798_761_600), to: setup.clock.now()))
    record.live = run
    try ScheduleFolder(spool: setup.store.spool).save(record)
    let restarted = try Setup(store: setup.store)
    restarted.schedules.load()
    let job = try #require(setup.store.store.job(id: run.jobID))
    #expect(job.state == .pending && job.record.window == run.window)
    restarted.schedules.load()
    #expect(setup.store.directory.list("spool/pending") == ["\(run.jobID).json"], "claimed once")
  }

  @Test func replacingAScheduleKeepsItsWindowOnlyWhenWhatItSelectsIsUnchanged() throws {
    let setup = try Setup()
    try setup.register()
    setup.clock.advance(seconds: 60)
    setup.schedules.runDue()
    let end = try #require(try setup.finishRun(.success).record.window?.to)
    setup.schedules.settleFinishedRuns()
    let sameSelection = Setup.text.replacingOccurrences(of: #""every": "1m""#, with: #""every": "5m""#)
    #expect(try setup.register(sameSelection).windowEnd == end)
    let otherFilter = sameSelection.replacingOccurrences(
      of: #""job_type": "order_export","#, with: #""job_type": "order_export", "filter": "eq(payment,paid)","#
    )
    #expect(try setup.register(otherFilter).windowEnd == nil, "another selection starts again")
  }

  @Test func anEshopboxRequestTakesScheduleAndWindowAtTheTop() throws {
    let request = try RequestParser(catalog: .builtIn).read(
      Array(
        #"{"jobType": "order_return", "schedule": {"cron": "0 6 * * mon", "timezone": "Asia/Kolkata"}, "window": {"field": "updated_at"}}"#
          .utf8))
    #expect(request.schedule?.cronText == "0 6 * * mon" && request.schedule?.timezone.name == "Asia/Kolkata")
    #expect(request.window?.field == "updated_at" && request.window?.lagMilliseconds == 60_000)
  }
}
