import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct JobTransitionsTests {
  static func job(_ state: JobState, cancel: Bool = false, key: String? = "k", attempts: Int = 1) -> Job {
    var record = JobRecord(
      id: JobID.make(), requestFile: "a.json", jobType: "order_export",
      request: ExportRequest(jobType: "order_export", filter: "eq(payment,paid)", idempotencyKey: key),
      createdAt: .now())
    record.attempts = attempts
    record.cancelRequested = cancel ? true : nil
    return Job(record: record, state: state)
  }

  @Test(arguments: [JobState.pending, .started, .success, .failed])
  func aJobNotCancelledGoesWhereItIsSent(target: JobState) {
    let job = JobTransitionsTests.job(.started)
    var record = job.record
    record.rows = 7
    let (state, resolved) = JobTransitions.resolve(job, to: target, record: record)
    #expect(state == target)
    #expect(resolved == record)
  }

  @Test(arguments: [JobState.pending, .success])
  func aCancelledJobNeverSucceedsNorRunsAgain(target: JobState) {
    let job = JobTransitionsTests.job(.started, cancel: true)
    var record = job.record
    record.rows = 1000
    record.fileName = "numbers.csv"
    record.sha256 = "ab"
    record.bytes = 10
    let (state, resolved) = JobTransitions.resolve(job, to: target, record: record)
    #expect(state == .failed)
    #expect(resolved.error == "cancelled")
    #expect(
      resolved.rows == nil && resolved.fileName == nil && resolved.sha256 == nil && resolved.bytes == nil)
  }

  @Test func aCancelOnlyTheRunnersRecordCarriesStillHolds() {
    var record = JobTransitionsTests.job(.started).record
    record.cancelRequested = true
    #expect(
      JobTransitions.resolve(JobTransitionsTests.job(.started), to: .success, record: record).0 == .failed)
  }

  @Test func afterACrashAStartedJobRunsAgainUnlessItWasCancelled() {
    let (plain, record) = JobTransitions.afterCrash(JobTransitionsTests.job(.started))
    #expect(plain == .pending && record.rows == nil && record.error == nil)
    let (cancelled, cancelledRecord) = JobTransitions.afterCrash(
      JobTransitionsTests.job(.started, cancel: true))
    #expect(cancelled == .failed && cancelledRecord.error == "cancelled")
  }

  @Test func aKeyIsHeldByEveryJobButOneRefusedAtItsDrop() {
    #expect(JobTransitions.holdsKey(JobTransitionsTests.job(.pending, attempts: 0)))
    #expect(JobTransitions.holdsKey(JobTransitionsTests.job(.success)))
    #expect(JobTransitions.holdsKey(JobTransitionsTests.job(.failed, attempts: 2)))
    var cancelledPending = JobTransitionsTests.job(.failed, attempts: 0)
    cancelledPending.record.error = "cancelled"
    #expect(JobTransitions.holdsKey(cancelledPending))
    var refused = JobTransitionsTests.job(.failed, attempts: 0)
    refused.record.error = "filter: unknown field"
    #expect(!JobTransitions.holdsKey(refused))
    #expect(!JobTransitions.holdsKey(JobTransitionsTests.job(.success, key: nil)))
  }

  @Test func aKeyReusedForAnotherExportIsAConflictNamingWhatDiffers() throws {
    let first = JobTransitionsTests.job(.success)
    var same = try #require(first.record.request)
    same.reference = "another reference"
    #expect(JobTransitions.keyConflict(same, with: first) == nil)
    var other = same
    other.filter = "eq(payment,refunded)"
    other.format = .jsonLines
    other.columns = ["order_number"]
    #expect(
      JobTransitions.keyConflict(other, with: first)
        == "idempotency_key 'k' was already used for job \(first.id) with a different filter, format and "
        + "columns; use a new key for a different export")
  }
}
