import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

/// The job table's changes, without a disk: what the store applies after each durable step.
@Suite(.timeLimit(.minutes(10))) struct JobTableTests {
  static func job(
    _ state: JobState, partner: String? = nil, key: String? = nil, created: Int64 = 1_000, attempts: Int = 0
  ) -> Job {
    var record = JobRecord(
      id: JobID.make(), requestFile: "a.json", jobType: "order_export",
      request: ExportRequest(jobType: "order_export", idempotencyKey: key),
      createdAt: Timestamp(milliseconds: created), partner: partner)
    record.attempts = attempts
    return Job(record: record, state: state)
  }

  static func start(_ job: Job) -> Job { Job(record: job.record, state: .started) }

  @Test func aJobCountsWhileItLivesAndItsKeyLastsUntilItExpires() {
    var table = JobTable(queuesLocally: true)
    let job = JobTableTests.job(.pending, partner: "acme", key: "nightly")
    table.add(job)
    #expect(table.activeCount(partner: "acme") == 1)
    #expect(table.keyed(partner: "acme", key: "nightly") == job.id)
    #expect(table.keyed(partner: nil, key: "nightly") == nil, "keys are per partner")
    let (next, unreadable) = table.nextPending(now: Timestamp(milliseconds: 2_000), read: { _ in nil })
    #expect(next == job && unreadable.isEmpty)
    let started = JobTableTests.start(job)
    table.moved(from: job, to: started)
    #expect(table.state(of: job.id) == .started && table.cached(job.id) == started)
    table.cancelRequested.insert(job.id)
    let done = Job(record: job.record, state: .success)
    table.moved(from: started, to: done)
    #expect(table.activeCount(partner: "acme") == 0)
    #expect(!table.cancelRequested.contains(job.id))
    #expect(table.keyed(partner: "acme", key: "nightly") == job.id, "the key outlives the job's run")
    #expect(table.finished(createdBy: Timestamp(milliseconds: 999)).isEmpty)
    #expect(table.finished(createdBy: Timestamp(milliseconds: 1_000)).map(\.id) == [job.id])
    table.expired(job.id)
    #expect(table.state(of: job.id) == nil)
    #expect(table.keyed(partner: "acme", key: "nightly") == nil)
  }

  @Test func aStagedClaimCountsAtOnceAndAFailedCommitLeavesNoTrace() {
    var table = JobTable(queuesLocally: true)
    let job = JobTableTests.job(.pending, partner: "acme", key: "k")
    table.stage(job)
    #expect(table.activeCount(partner: "acme") == 1 && table.keyed(partner: "acme", key: "k") == job.id)
    let (staged, _) = table.nextPending(now: Timestamp(milliseconds: 5_000), read: { _ in nil })
    #expect(staged == nil, "not queued yet")
    table.unstage(job)
    #expect(table.activeCount(partner: "acme") == 0 && table.keyed(partner: "acme", key: "k") == nil)
    #expect(table.state(of: job.id) == nil)
    table.stage(job)
    table.committed(job)
    let (queued, _) = table.nextPending(now: Timestamp(milliseconds: 5_000), read: { _ in nil })
    #expect(queued == job)
  }

  @Test func aClaimRefusedPastItsLimitGivesItsCountAndKeyBack() {
    var table = JobTable(queuesLocally: false)
    var job = JobTableTests.job(.pending, partner: "acme", key: "k")
    table.stage(job)
    job.state = .failed
    job.record.error = "too many jobs in progress"
    table.refusedAtClaim(job)
    #expect(table.activeCount(partner: "acme") == 0)
    #expect(table.keyed(partner: "acme", key: "k") == nil)
    #expect(table.state(of: job.id) == .failed)
  }

  @Test func aKeyNamesTheFirstJobMadeWithItNotOneRefusedForIt() {
    var table = JobTable(queuesLocally: true)
    let first = JobTableTests.job(.success, key: "k", created: 1_000, attempts: 1)
    var refused = JobTableTests.job(.failed, key: "k", created: 2_000)
    refused.record.error = "idempotency_key 'k' was already used"
    let later = JobTableTests.job(.pending, key: "k", created: 3_000)
    // Recovery reads jobs in any order.
    for job in [later, refused, first] { table.add(job) }
    #expect(table.keyed(partner: nil, key: "k") == first.id)
  }

  @Test func pendingJobsWaitForTheirRetryTimeAndPartnersTakeTurns() {
    var table = JobTable(queuesLocally: true)
    var retrying = JobTableTests.job(.pending, partner: "a", created: 1)
    retrying.record.retryAt = Timestamp(milliseconds: 10_000)
    let a2 = JobTableTests.job(.pending, partner: "a", created: 2)
    let a3 = JobTableTests.job(.pending, partner: "a", created: 3)
    let b1 = JobTableTests.job(.pending, partner: "b", created: 4)
    for job in [retrying, a2, a3, b1] { table.add(job) }
    #expect(table.nextRetry == Timestamp(milliseconds: 10_000))
    var order: [String] = []
    while true {
      let (next, unreadable) = table.nextPending(now: Timestamp(milliseconds: 5_000), read: { _ in nil })
      #expect(unreadable.isEmpty)
      guard let next else { break }
      order.append(next.id)
      table.moved(from: next, to: JobTableTests.start(next))
    }
    // a's oldest waits for its retry time (looking at it spent a's turn), so b goes first; then a's in order.
    #expect(order == [b1.id, a2.id, a3.id])
    let (due, _) = table.nextPending(now: Timestamp(milliseconds: 10_000), read: { _ in nil })
    #expect(due == retrying)
  }

  @Test func aPendingJobWhoseRecordCannotBeReadWaitsASecond() {
    var table = JobTable(queuesLocally: false)  // keeps no records: each is read back
    let job = JobTableTests.job(.pending)
    _ = table.reconcile(job)
    table.requeue(job)
    let (none, unreadable) = table.nextPending(now: Timestamp(milliseconds: 5_000), read: { _ in nil })
    #expect(none == nil && unreadable == [job.id])
    #expect(table.nextRetry == Timestamp(milliseconds: 6_000))
    let (later, _) = table.nextPending(now: Timestamp(milliseconds: 6_000), read: { _ in job })
    #expect(later == job)
  }

  @Test func anotherNodesChangeNeverTakesAFinishedJobBackAndThisNodesOwnStartIsNoNews() {
    var table = JobTable(queuesLocally: false)
    let job = JobTableTests.job(.pending, partner: "acme")
    let taken = table.reconcile(job)
    #expect(taken)
    #expect(table.activeCount(partner: "acme") == 1)
    let started = JobTableTests.start(job)
    table.runningHere.insert(job.id)
    let echo = table.reconcile(started)
    #expect(!echo, "this node's own start, read back")
    let done = Job(record: job.record, state: .failed)
    let finished = table.reconcile(done)
    #expect(finished)
    #expect(table.activeCount(partner: "acme") == 0)
    #expect(!table.runningHere.contains(job.id))
    let late = table.reconcile(started)
    #expect(!late, "a change read late never takes a finished job back")
    #expect(table.state(of: job.id) == .failed)
  }

  @Test func aCancelledStartedJobKeepsItsMarkInItsRecord() {
    var table = JobTable(queuesLocally: true)
    let job = JobTableTests.start(JobTableTests.job(.pending))
    table.store(job)
    var marked = job
    marked.record.cancelRequested = true
    table.cancelled(marked)
    #expect(table.cancelRequested.contains(job.id))
    #expect(table.cached(job.id)?.record.cancelRequested == true)
  }
}
