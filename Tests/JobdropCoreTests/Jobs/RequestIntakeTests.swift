import Logging
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

/// The intake on a real inbox, spool and outbox: a request becomes one job, a claimed file is not
/// claimed twice, a cancel and a key's repeat make no job, a cut-short request waits.
@Suite(.timeLimit(.minutes(10))) struct RequestIntakeTests {
  struct Setup {
    let store: JobStoreTests.Setup
    let intake: RequestIntake

    init(grace: Int64 = 60_000, clock: ServiceClock = .system) throws {
      store = try JobStoreTests.Setup(clock: clock)
      intake = RequestIntake(
        inbox: store.inbox, store: store.store, parser: RequestParser(catalog: .builtIn),
        settleMilliseconds: 60_000, graceMilliseconds: grace, logger: Logger(label: "test"))
    }

    func drop(_ name: String, _ text: String) { store.directory.write(text, to: "inbox/" + name) }
  }

  static let request = #"{"data": {"type": "job", "job_type": "order_export"}}"#

  @Test func aRequestIsOneJobAndItsFileInItsGraceTimeIsNotClaimedAgain() throws {
    let setup = try Setup()
    setup.drop("a.json", RequestIntakeTests.request)
    let first = try setup.intake.scan()
    #expect(first.claimed.count == 1 && first.claimed.first?.state == .pending)
    #expect(first.retiring[FileName("a.json")] != nil, "kept for its grace time")
    let again = try setup.intake.scan()
    #expect(again.claimed.isEmpty, "the same file, the same bytes: the same request")
    #expect(setup.store.directory.list("spool/pending").count == 1)
    #expect(setup.store.directory.list("inbox") == ["a.json"])
  }

  @Test func aClaimedFileLeavesTheInboxWhenItsGraceTimeIsOverOnTheStoresClock() throws {
    let setup = try Setup(grace: 10_000, clock: .manual(at: .now()))
    setup.drop("a.json", RequestIntakeTests.request)
    let first = try setup.intake.scan()
    let claimedAt = setup.store.clock.now()
    #expect(first.retiring[FileName("a.json")] == claimedAt.adding(seconds: 10))
    setup.store.clock.advance(milliseconds: 9_999)
    let before = try setup.intake.scan()
    #expect(setup.store.directory.list("inbox") == ["a.json"], "still in its grace time")
    #expect(before.retiring[FileName("a.json")] == claimedAt.adding(seconds: 10), "due when it was")
    setup.store.clock.advance(milliseconds: 1)
    let after = try setup.intake.scan()
    #expect(setup.store.directory.list("inbox").isEmpty, "retired once its grace time is over")
    #expect(after.claimed.isEmpty && after.retiring.isEmpty)
    #expect(setup.store.directory.list("spool/pending").count == 1, "one job for the upload")
  }

  @Test func aNewUploadUnderAClaimedNameIsANewJob() throws {
    let setup = try Setup()
    setup.drop("a.json", RequestIntakeTests.request)
    _ = try setup.intake.scan()
    setup.store.directory.write(
      #"{"data": {"type": "job", "job_type": "order_export", "filter": "eq(payment,paid)"}}"#,
      to: "inbox/a.json")
    let pass = try setup.intake.scan()
    #expect(pass.claimed.count == 1, "other bytes under the name: a new request")
  }

  @Test func aBadRequestIsAFailedJobSayingWhy() throws {
    let setup = try Setup()
    setup.drop(
      "bad.json", #"{"data": {"type": "job", "job_type": "order_export", "filter": "eq(colour,red)"}}"#)
    let pass = try setup.intake.scan()
    #expect(pass.claimed.first?.state == .failed)
    #expect(pass.claimed.first?.record.error?.hasPrefix("filter: unknown field 'colour'") == true)
  }

  @Test func aCutShortRequestWaitsForItsSettleTime() throws {
    let setup = try Setup()
    setup.drop("half.json", #"{"data": {"type": "job", "job_ty"#)
    let pass = try setup.intake.scan()
    #expect(pass.claimed.isEmpty)
    #expect(pass.waiting[FileName("half.json")] != nil)
  }

  @Test func aCancelAndARepeatedKeyMakeNoJobAndAnswerInTheirDocuments() throws {
    let setup = try Setup()
    let keyed = #"{"data": {"type": "job", "job_type": "order_export", "idempotency_key": "k1"}}"#
    setup.drop("first.json", keyed)
    let job = try #require(try setup.intake.scan().claimed.first)
    setup.drop("again.json", keyed)
    setup.drop("cancel.json", #"{"cancel": "\#(job.id)"}"#)
    let pass = try setup.intake.scan()
    #expect(pass.claimed.isEmpty)
    #expect(setup.store.directory.read("outbox/requests/again.json")?.contains(job.id) == true)
    #expect(
      setup.store.directory.read("outbox/requests/cancel.json")?.contains(#""result":"cancelled""#) == true)
    #expect(setup.store.store.job(id: job.id)?.record.error == "cancelled")
  }
}
