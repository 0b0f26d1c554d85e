import Foundation
import Logging
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct JobStoreTests {
  struct Setup {
    let directory = TemporaryDirectory()
    let spool: Spool
    let inbox: Inbox
    let store: JobStore
    let lock: SpoolLock
    /// The store's clock: the system's, or a manual one the tests that need time to pass move.
    let clock: ServiceClock

    init(clock: ServiceClock = .system) throws {
      self.clock = clock
      spool = try Spool(path: directory.file("spool"))
      inbox = try Inbox(path: directory.file("inbox"))
      let sites = try OutboxSites(path: directory.file("outbox"), links: OutboxLinks(baseURL: nil), ttl: 3600)
      store = JobStore(spool: spool, sites: sites, logger: Logger(label: "test"), clock: clock)
      lock = try spool.lock()
    }

    func claim(_ name: String, error: String? = nil, partner: String? = nil) throws -> Job {
      let record = JobRecord(
        id: JobID.make(), requestFile: name, jobType: "order_export",
        request: ExportRequest(jobType: "order_export"), createdAt: clock.now(), error: error,
        partner: partner)
      return try store.claim(
        record, state: error == nil ? .pending : .failed,
        bytes: Array(#"{"data":{"type":"job","job_type":"order_export"}}"#.utf8))
    }
  }

  @Test func aClaimIsInTheSpoolTheOutboxAndThePendingQueue() throws {
    let setup = try Setup()
    let job = try setup.claim("a.json")
    #expect(setup.directory.list("spool/pending") == ["\(job.id).json"])
    #expect(setup.directory.list("outbox/jobs") == ["\(job.id).json"])
    #expect(setup.directory.read("outbox/requests/a.json")?.contains(#""status":"pending""#) == true)
    let started = try #require(try setup.store.startNextPending())
    #expect(started.id == job.id && started.state == .started && started.record.attempts == 1)
    #expect(try setup.store.startNextPending() == nil, "one job, taken once")
  }

  /// The records of pending jobs kept in memory (so a burst's runner need not read them back) follow
  /// every change the spool gets: what starts is what the spool holds.
  @Test func aPendingJobStartsWithEveryChangeMadeWhileItWaited() throws {
    let setup = try Setup()
    let job = try setup.claim("a.json")
    let aliased = try setup.store.addAlias("again.json", to: job)
    #expect(aliased.record.requestAliases == ["again.json"])
    let started = try #require(try setup.store.startNextPending(durable: false))
    #expect(started.record.requestAliases == ["again.json"])
    #expect(started.record.attempts == 1)
    var onDisk = try #require(setup.spool.reader.job(id: job.id))
    #expect(onDisk.state == .pending && onDisk.record.requestAliases == ["again.json"])
    // Back to pending, then started again: the second start sees the first one's attempt.
    var record = started.record
    record.rows = nil
    try setup.store.move(started, to: .pending, record: record)
    let again = try #require(try setup.store.startNextPending(durable: false))
    #expect(again.record.attempts == 2 && again.record.requestAliases == ["again.json"])
    onDisk = try #require(setup.spool.reader.job(id: job.id))
    #expect(onDisk.state == .pending && onDisk.record.attempts == 1, "started in memory only")
  }

  @Test func aJobWaitingToRetryStartsOnlyWhenItsTimeHasComeWithItsWholeRecord() throws {
    let setup = try Setup(clock: .manual(at: .now()))
    let waiting = try setup.claim("a.json")
    setup.clock.advance(milliseconds: 1)  // created after a.json
    let due = try setup.claim("b.json")
    let later = setup.clock.now().adding(seconds: 600)
    let earlier = setup.clock.now().adding(seconds: -1)
    for (job, retryAt) in [(waiting, later), (due, earlier)] {
      let started = try #require(try setup.store.startNextPending())
      #expect(started.id == job.id)
      var record = started.record
      record.retryAt = retryAt
      try setup.store.move(started, to: .pending, record: record)
    }
    #expect(setup.store.nextRetry() == earlier, "the earliest retry time")
    // The store keeps a waiting job as a summary: what starts is the record read back from the spool.
    let again = try #require(try setup.store.startNextPending())
    #expect(again.id == due.id && again.record.attempts == 2 && again.record.retryAt == nil)
    #expect(again.record.request == ExportRequest(jobType: "order_export"))
    #expect(try setup.store.startNextPending() == nil, "a.json waits for its retry time")
    #expect(setup.store.nextRetry() == later)
    setup.clock.advance(seconds: 599)
    #expect(try setup.store.startNextPending() == nil, "a second early on the store's clock")
    setup.clock.advance(seconds: 1)
    let late = try #require(try setup.store.startNextPending(), "its time has come")
    #expect(late.id == waiting.id && late.record.attempts == 2)
    try setup.store.move(late, to: .pending, record: late.record)
    #expect(try setup.store.cancel(id: waiting.id, partner: nil) == .cancelled)
    #expect(setup.store.nextRetry() == nil, "a cancelled job waits for nothing")
  }

  @Test func aPartnerCancelsOnlyItsOwnJobs() throws {
    let setup = try Setup()
    let acme = try setup.claim("a.json", partner: "acme")
    let globex = try setup.claim("g.json", partner: "globex")
    #expect(try setup.store.cancel(id: acme.id, partner: "globex") == .noSuchJob)
    #expect(try setup.store.cancel(id: acme.id, partner: nil) == .noSuchJob)
    #expect(setup.store.job(id: acme.id)?.state == .pending, "another partner's cancel leaves it alone")
    #expect(try setup.store.cancel(id: acme.id, partner: "acme") == .cancelled)
    #expect(setup.store.job(id: acme.id)?.state == .failed)
    #expect(setup.store.job(id: acme.id)?.record.error == "cancelled")
    #expect(setup.store.activeCount(partner: "acme") == 0)
    #expect(setup.directory.list("spool/failed") == ["\(acme.id).json"], "the cancel is durable")
    #expect(try setup.store.cancel(id: acme.id, partner: "acme") == .alreadyFinished)
    // A started job is marked for its runner, which stops at its next check.
    let started = try #require(try setup.store.startNextPending())
    #expect(started.id == globex.id, "the cancelled job is never started")
    #expect(try setup.store.cancel(id: globex.id, partner: "globex") == .cancelled)
    #expect(setup.store.isCancelRequested(globex.id))
    #expect(setup.store.job(id: globex.id)?.state == .started)
  }

  @Test func aSuccessPublishesTheFileLinkAndTheIndexListsNewestFirst() throws {
    let setup = try Setup()
    let first = try setup.claim("a.json")
    let second = try setup.claim("b.json", error: "bad")
    var started = try #require(try setup.store.startNextPending())
    started.record.fileName = "x.csv"
    started.record.rows = 3
    try setup.store.move(started, to: .success, record: started.record)
    #expect(
      setup.directory.read("outbox/jobs/\(first.id)/file.json")
        == #"{"data":{"href":"files/\#(first.id)/x.csv"}}"#)
    try setup.store.publishIndex(force: true)
    let index = try #require(setup.directory.read("outbox/index.json"))
    let ids = try JSONSerialization.jsonObject(with: Data(index.utf8)) as! [String: [[String: Any]]]
    #expect(ids["data"]!.map { $0["id"] as! String } == [second.id, first.id])
    #expect(ids["data"]!.map { $0["status"] as! String } == ["failed", "success"])
  }

  @Test func recoverySendsStartedJobsBackToPendingAndRepublishesThem() throws {
    var setup: Setup? = try Setup()
    let job = try setup!.claim("a.json")
    _ = try setup!.store.startNextPending()
    let root = setup!.directory
    try FileManager.default.removeItem(atPath: root.file("outbox/jobs/\(job.id).json"))
    let spoolPath = setup!.spool.root.path
    withExtendedLifetime(root) {
      setup = nil  // the first process is gone (its lock with it)
    }
    let spool = try Spool(path: spoolPath)
    let sites = try OutboxSites(path: root.file("outbox"), links: OutboxLinks(baseURL: nil), ttl: 3600)
    let store = JobStore(spool: spool, sites: sites, logger: Logger(label: "test"))
    let inbox = try Inbox(path: root.file("inbox"))
    try store.recover(try spool.lock(), inbox: inbox, folders: [nil: inbox])
    #expect(store.job(id: job.id)?.state == .pending)
    #expect(root.list("spool/started") == [])
    #expect(root.read("outbox/jobs/\(job.id).json")?.contains(#""status":"pending""#) == true)
    // The page's rows of recovered jobs are made from the spool at the first render.
    #expect(root.read("outbox/index.html")?.contains("<td>a.json</td>") == true)
  }

  @Test func expiryRemovesFinishedJobsEverywhere() throws {
    let setup = try Setup(clock: .manual(at: .now()))
    let job = try setup.claim("a.json", error: "bad")
    setup.clock.advance(milliseconds: 3_599_999)
    #expect(try setup.store.expire(now: setup.clock.now()) == 0, "kept for its whole TTL")
    setup.clock.advance(milliseconds: 1)
    #expect(try setup.store.expire(now: setup.clock.now()) == 1)
    #expect(setup.store.job(id: job.id) == nil)
    #expect(setup.directory.list("spool/failed") == [])
    #expect(setup.directory.list("spool/requests") == [])
    #expect(setup.directory.list("outbox/jobs") == [])
    #expect(setup.directory.list("outbox/requests") == [])
  }

  @Test func partnersTakeTurnsOldestFirstWithinEach() throws {
    let setup = try Setup()
    let acme = try (1...4).map { try setup.claim("a\($0).json", partner: "acme") }
    let globex = try setup.claim("g.json", partner: "globex")
    let initech = try setup.claim("i.json", partner: "initech")
    #expect(setup.store.activeCount(partner: "acme") == 4)
    var order: [String] = []
    while let job = try setup.store.startNextPending() {
      order.append(job.id)
      try setup.store.move(job, to: .failed, record: job.record)
    }
    #expect(order == [acme[0].id, globex.id, initech.id, acme[1].id, acme[2].id, acme[3].id])
    #expect(setup.store.activeCount(partner: "acme") == 0)
  }

  @Test func eachPartnersJobsArePublishedInItsOwnSiteOnly() throws {
    let setup = try Setup()
    let acme = try setup.claim("same.json", partner: "acme")
    let globex = try setup.claim("same.json", partner: "globex")
    try setup.store.publishIndex(force: true)
    #expect(setup.directory.list("outbox/acme/jobs") == ["\(acme.id).json"])
    #expect(setup.directory.list("outbox/globex/jobs") == ["\(globex.id).json"])
    #expect(setup.directory.read("outbox/acme/requests/same.json")?.contains(acme.id) == true)
    #expect(setup.directory.read("outbox/globex/requests/same.json")?.contains(globex.id) == true)
    let acmeIndex = try #require(setup.directory.read("outbox/acme/index.json"))
    #expect(acmeIndex.contains(acme.id) && !acmeIndex.contains(globex.id))
    #expect(acmeIndex.contains(#""partner":"acme""#))
    #expect(setup.directory.read("outbox/index.json") == nil, "no site of no partner was opened")
  }
}
