import Foundation
import Testing

/// `{"cancel": "<job id>"}` and `idempotency_key`, through the real binary.
@Suite(.timeLimit(.minutes(10))) struct CancelTests {
  /// A job type that counts to 50,000,000: an export that runs for a long time on any store.
  static let catalog = #"""
    {"job_types": [{"name": "numbers", "summary": "Counting.", "source":
      "(WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50000000) SELECT x AS n FROM n) AS numbers",
      "columns": [{"name": "n", "type": "integer"}], "fields": []}]}
    """#
  static let numbers = #"{"data": {"type": "job", "job_type": "numbers"}}"#

  func document(_ sandbox: Sandbox, _ file: String) -> [String: Any]? {
    guard let data = try? sandbox.outboxFile("requests/\(file)"),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return nil }
    return object["data"] as? [String: Any]
  }

  @Test func cancelStopsARunningExportFailsAPendingOneAndSaysWhatItDid() throws {
    let sandbox = try Sandbox(orders: 200)
    try CancelTests.catalog.write(toFile: sandbox.root + "/catalog.json", atomically: true, encoding: .utf8)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--catalog", sandbox.root + "/catalog.json"])
    defer { daemon.stop() }
    sandbox.drop("big.json", CancelTests.numbers)
    #expect(waiter.wait { document(sandbox, "big.json")?["status"] as? String == "started" }, "\(daemon.log)")
    sandbox.drop("queued.json", CancelTests.numbers)  // one worker: it waits behind big.json
    #expect(waiter.wait { document(sandbox, "queued.json")?["status"] as? String == "pending" })
    let big = try #require(document(sandbox, "big.json")?["id"] as? String)
    let queued = try #require(document(sandbox, "queued.json")?["id"] as? String)

    sandbox.drop("cancel-queued.json", #"{"cancel": "\#(queued)"}"#)
    #expect(waiter.wait { document(sandbox, "cancel-queued.json")?["result"] as? String == "cancelled" })
    #expect(document(sandbox, "queued.json")?["status"] as? String == "failed")
    #expect(document(sandbox, "queued.json")?["error"] as? String == "cancelled")
    #expect(document(sandbox, "big.json")?["status"] as? String == "started", "the running job goes on")

    sandbox.drop("cancel-big.json", #"{"cancel": "\#(big)"}"#)
    #expect(waiter.wait { document(sandbox, "cancel-big.json")?["result"] as? String == "cancelled" })
    #expect(waiter.wait { document(sandbox, "big.json")?["status"] as? String == "failed" }, "\(daemon.log)")
    #expect(document(sandbox, "big.json")?["error"] as? String == "cancelled")
    #expect(
      sandbox.list("outbox/files/\(big)").isEmpty, "a cancelled export leaves no file, not even a temp one")

    sandbox.drop("again.json", #"{"cancel": "\#(big)"}"#)
    sandbox.drop("unknown.json", #"{"cancel": "00000000-0000-4000-8000-000000000000"}"#)
    #expect(waiter.wait { document(sandbox, "unknown.json")?["result"] as? String == "no such job" })
    #expect(waiter.wait { document(sandbox, "again.json")?["result"] as? String == "already finished" })
    // Cancel requests create no jobs.
    #expect(try sandbox.index().count == 2)
    #expect(daemon.log.contains("job cancelled by its partner"))
  }

  @Test func aRequestWithALiveJobsIdempotencyKeyCreatesNoJob() throws {
    let sandbox = try Sandbox(orders: 300)
    let keyed = Sandbox.request(extra: #", "idempotency_key": "nightly-2026-12-01""#)
    sandbox.drop("first.json", keyed)
    sandbox.drop("retry.json", keyed)  // the same batch: the second sees the first one pending
    sandbox.drop(
      "eshopbox.json", #"{"jobType": "order_return", "idempotency_key": "returns", "exportFilters": {}}"#)
    sandbox.drop(
      "eshopbox-retry.json",
      #"{"jobType": "order_return", "idempotency_key": "returns", "exportFilters": {}}"#)
    try sandbox.process()
    let jobs = try sandbox.index()
    #expect(jobs.count == 2)
    let first = try sandbox.outboxFile("requests/first.json")
    #expect(try sandbox.outboxFile("requests/retry.json") == first, "the repeat's document is the live job")
    #expect(
      try sandbox.outboxFile("requests/eshopbox-retry.json")
        == (try sandbox.outboxFile("requests/eshopbox.json")))
    let job =
      try #require(try JSONSerialization.jsonObject(with: first) as? [String: Any])["data"] as? [String: Any]
    #expect(job?["status"] as? String == "success")
    #expect(sandbox.list("inbox").isEmpty, "the repeats are taken from the inbox")

    // The key lasts as long as its job is published: a re-upload after the job finished is that job too,
    // and the same key with other parameters is refused, saying so.
    sandbox.drop("reupload.json", keyed)
    sandbox.drop(
      "other.json",
      Sandbox.request(
        filter: "eq(payment,refunded)",
        extra: #", "idempotency_key": "nightly-2026-12-01", "format": "jsonl""#))
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox)
    #expect(waiter.wait { (try? sandbox.index().count) == 3 }, "\(daemon.log)")
    #expect(waiter.wait { (try? sandbox.outboxFile("requests/reupload.json")) == first }, "\(daemon.log)")
    let firstID = try #require(job?["id"] as? String)
    #expect(
      waiter.wait {
        sandbox.jobsByFile()["other.json"]?.first?["error"] as? String
          == "idempotency_key 'nightly-2026-12-01' was already used for job \(firstID) with a different filter "
          + "and format; use a new key for a different export"
      }, "\(sandbox.jobsByFile()["other.json"] ?? [])")
    #expect(sandbox.jobsByFile()["other.json"]?.first?["status"] as? String == "failed")
    let invalid = Sandbox.request(extra: #", "idempotency_key": """#)
    sandbox.drop("empty-key.json", invalid)
    #expect(
      waiter.wait {
        sandbox.jobsByFile()["empty-key.json"]?.first?["error"] as? String
          == "data.idempotency_key: 1 to 255 characters, got 0"
      })
    // Remembered across a restart: the refused request did not take the key over.
    #expect(daemon.stop() == 0)
    sandbox.drop("after-restart.json", keyed)
    try sandbox.process()
    #expect(try sandbox.outboxFile("requests/after-restart.json") == first, "the key outlives a restart")
    #expect(try sandbox.index().count == 4)
  }

  /// A cancel answered `cancelled` holds whatever follows: killed the moment the answer is written (the
  /// debug build kills itself there; no grace time keeps the cancel file in the inbox to be read again)
  /// and started again, the job ends `cancelled` instead of running again.
  @Test func aCancelAnsweredCancelledHoldsThroughAKill() throws {
    let sandbox = try Sandbox(orders: 10)
    try CancelTests.catalog.write(toFile: sandbox.root + "/catalog.json", atomically: true, encoding: .utf8)
    let options = ["--catalog", sandbox.root + "/catalog.json", "--grace", "0s"]
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, options, environment: ["JOBDROP_CRASH_AT": "request-answered"])
    sandbox.drop("big.json", CancelTests.numbers)
    #expect(waiter.wait { document(sandbox, "big.json")?["status"] as? String == "started" }, "\(daemon.log)")
    let id = try #require(document(sandbox, "big.json")?["id"] as? String)
    sandbox.drop("cancel.json", #"{"cancel": "\#(id)"}"#)
    #expect(daemon.wait() == 128 + SIGKILL, "killed once the answer was written: \(daemon.log)")
    #expect(document(sandbox, "cancel.json")?["result"] as? String == "cancelled")
    #expect(sandbox.list("inbox").isEmpty, "with no grace time the cancel file was taken at once")
    let again = try RunningDaemon(sandbox, options)
    defer { again.stop() }
    #expect(
      waiter.wait { document(sandbox, "big.json")?["status"] as? String == "failed" }, "\(again.log)")
    #expect(document(sandbox, "big.json")?["error"] as? String == "cancelled")
    #expect(sandbox.list("outbox/files/\(id)").isEmpty)
  }

  /// A query that reads billions of rows and writes none: without an interrupt of the query itself it
  /// would run for many minutes, since the row loop never gets a row to check between.
  @Test(arguments: ["sqlite", "postgres"])
  func cancelInterruptsAQueryThatHasNotProducedARow(database: String) throws {
    let sandbox = try Sandbox(orders: 100)
    var options: [String] = []
    var server: PostgresServer?
    let source: String
    if database == "postgres" {
      server = try PostgresServer(directory: sandbox.root)
      options = ["--source", server!.url]
      // (generate_series would not do: a function scan fills its whole result before it looks at a cancel.)
      source =
        "(WITH RECURSIVE c(x) AS (SELECT 1::bigint UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000) SELECT x AS n FROM c WHERE x < 0) AS quiet"
    } else {
      source =
        "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000) SELECT x AS n FROM c WHERE x < 0) AS quiet"
    }
    let catalog =
      #"{"job_types": [{"name": "silent", "summary": "Nothing, slowly.", "source": "\#(source)", "columns": [{"name": "n", "type": "integer"}], "fields": []}]}"#
    try catalog.write(toFile: sandbox.root + "/catalog.json", atomically: true, encoding: .utf8)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--catalog", sandbox.root + "/catalog.json"] + options)
    defer { daemon.stop() }
    sandbox.drop("silent.json", #"{"data": {"type": "job", "job_type": "silent"}}"#)
    #expect(
      waiter.wait { document(sandbox, "silent.json")?["status"] as? String == "started" }, "\(daemon.log)")
    let id = try #require(document(sandbox, "silent.json")?["id"] as? String)
    sandbox.drop("cancel.json", #"{"cancel": "\#(id)"}"#)
    #expect(
      waiter.wait(timeout: 30) { document(sandbox, "silent.json")?["status"] as? String == "failed" },
      "\(daemon.log)")
    #expect(document(sandbox, "silent.json")?["error"] as? String == "cancelled")
    #expect(sandbox.list("outbox/files/\(id)").isEmpty)
    _ = server
  }
}
