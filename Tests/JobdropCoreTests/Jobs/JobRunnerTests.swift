import Foundation
import JobdropCrypto
import Logging
import Testing

@testable import JobdropDemo
@testable import JobdropExport
@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

/// One runner on a real spool, outbox and SQLite demo store (or a PostgreSQL address nothing listens on):
/// what a job ends as, what its file holds, what its `error` says, and when a failed source is tried again.
@Suite(.timeLimit(.minutes(10))) struct JobRunnerTests {
  struct Setup {
    let store: JobStoreTests.Setup
    let runner: JobRunner
    let database: String

    init(source: ((String) -> any DataSource)? = nil, emptyOK: Bool = false) throws {
      store = try JobStoreTests.Setup(clock: .manual(at: .now()))
      database = store.directory.file("store.sqlite")
      try DemoData(orders: 300).generate(at: database)
      runner = JobRunner(
        store: store.store, catalog: .builtIn, source: source?(database) ?? SQLiteSource(path: database),
        emptyOK: emptyOK, rawCSV: false, logger: Logger(label: "test"))
    }

    func claim(_ request: ExportRequest) throws -> Job {
      let record = JobRecord(
        id: JobID.make(), requestFile: "r.json", jobType: request.jobType, request: request,
        createdAt: store.clock.now())
      return try store.store.claim(record, state: .pending, bytes: Array("{}".utf8))
    }

    /// The count of `orders` rows matching `condition`, asked of SQLite itself.
    func count(where condition: String) throws -> Int {
      let statement = try SQLiteDatabase(path: database).prepare(
        "SELECT count(*) FROM orders WHERE \(condition)")
      _ = try statement.step()
      return Int(statement.integer(at: 0))
    }
  }

  @Test func aJobEndsInSuccessWithEveryMatchingRowInItsPublishedFile() throws {
    let setup = try Setup()
    let job = try setup.claim(ExportRequest(jobType: "order_export", filter: "eq(payment,paid)"))
    let done = try #require(try setup.runner.runNext())
    #expect(done.id == job.id && done.state == .success && done.record.error == nil)
    let expected = try setup.count(where: "payment = 'paid'")
    #expect(expected > 0 && done.record.rows == expected)
    let name = try #require(done.record.fileName)
    let bytes = try #require(
      FileManager.default.contents(atPath: setup.store.directory.file("outbox/files/\(job.id)/\(name)")))
    #expect(bytes.filter { $0 == UInt8(ascii: "\n") }.count == expected + 1, "a header and one line a row")
    #expect(done.record.bytes == bytes.count)
    #expect(done.record.sha256 == SHA256Digest.hex(of: Array(bytes)))
    #expect(setup.store.directory.list("spool/success") == ["\(job.id).json"])
    #expect(
      setup.store.directory.read("outbox/jobs/\(job.id).json")?.contains(#""status":"success""#) == true)
    #expect(try setup.runner.runNext() == nil, "nothing else pending")
  }

  @Test func aFilterMatchingNothingFailsWithElasticPathsWordsAndLeavesNoFolder() throws {
    let setup = try Setup()
    let job = try setup.claim(
      ExportRequest(jobType: "order_export", filter: "eq(order_number,NO-SUCH-ORDER)"))
    let done = try #require(try setup.runner.runNext())
    #expect(done.state == .failed && done.record.error == JobRunner.noResults && done.record.rows == 0)
    #expect(setup.store.directory.list("outbox/files").filter { $0 == job.id }.isEmpty)
  }

  @Test func withEmptyExportsAllowedAFilterMatchingNothingPublishesAHeader() throws {
    let setup = try Setup(emptyOK: true)
    _ = try setup.claim(ExportRequest(jobType: "order_export", filter: "eq(order_number,NO-SUCH-ORDER)"))
    let done = try #require(try setup.runner.runNext())
    #expect(done.state == .success && done.record.rows == 0)
  }

  @Test func aRequestThatNoLongerCompilesFailsSayingWhyInTheRequestsWords() throws {
    let setup = try Setup()
    _ = try setup.claim(ExportRequest(jobType: "order_export", filter: "eq(colour,red)"))
    let done = try #require(try setup.runner.runNext())
    #expect(done.state == .failed)
    #expect(done.record.error?.hasPrefix("filter: unknown field 'colour'") == true)
  }

  /// A database that refuses connections: the job waits 1 s, 2 s, 4 s, 8 s on the store's clock (the test
  /// moves it; nothing sleeps), then fails saying how often it was tried, with no host or port in its text.
  @Test func aSourceThatRefusesConnectionsIsRetriedOnTheStoresClockThenFailsSayingSo() throws {
    let closed = ClosedPort()
    let port = closed.port
    let setup = try Setup(source: { _ in
      PostgresSource(conninfo: "host=127.0.0.1 port=\(port) dbname=x connect_timeout=2", displayName: "x")
    })
    setup.runner.retries = 2
    let job = try setup.claim(ExportRequest(jobType: "order_export"))
    for (attempt, wait) in [(1, Int64(1)), (2, 2)] {
      let waiting = try #require(try setup.runner.runNext())
      #expect(waiting.id == job.id && waiting.state == .pending && waiting.record.attempts == attempt)
      #expect(waiting.record.retryAt == setup.store.clock.now().adding(seconds: wait))
      #expect(try setup.runner.runNext() == nil, "not before its retry time")
      setup.store.clock.advance(seconds: wait)
    }
    let failed = try #require(try setup.runner.runNext())
    #expect(failed.state == .failed && failed.record.attempts == 3)
    let error = try #require(failed.record.error)
    #expect(error.hasSuffix("; the job was retried 2 times"), "\(error)")
    #expect(!error.contains("127.0.0.1") && !error.contains("\(port)"), "no host or port: \(error)")
    withExtendedLifetime(closed) {}
  }
}
