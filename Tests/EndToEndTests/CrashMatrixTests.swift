import Foundation
import JobdropCrypto
import JobdropExport
import JobdropState
import JobdropSystem
import Testing

/// SIGKILL at each step of a job's life, and between the steps of every move (the debug binary kills itself where `JOBDROP_CRASH_AT` says),
/// then a normal run: every request ends as exactly one job, every success has its complete file, and
/// nothing partial, temporary or orphaned is left.
@Suite(.timeLimit(.minutes(10))) struct CrashMatrixTests {
  @Test(arguments: [
    "mid-export", "export-published", "mid-index", "mid-expiry",
    // Inside the group commit of the three claims (request copies and status files written, flushed,
    // the first renamed, all renamed and flushed).
    "group-written", "group-flushed", "group-renaming", "group-committed",
    // (A start inside a group is made in memory: nothing is written until its outcome, so there is no
    // step of it to crash between.)
    // Inside the group commit of the first job's outcome, and after it (the old status file retired).
    "group-written#2", "group-flushed#2", "group-renaming#2", "group-committed#2", "group-retired",
  ])
  func aCrashAtEveryStepLosesAndRepeatsNothing(point: String) throws {
    let sandbox = try Sandbox(orders: 20_000)
    // A finished job eight days old, for the expiry step.
    sandbox.drop("old.json", Sandbox.request(filter: "eq(payment,refunded)"))
    try sandbox.process()
    let old = try sandbox.job(file: "old.json")["id"] as! String
    let path = sandbox.spool + "/success/\(old).json"
    var record =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    record["createdAt"] = Timestamp.now().adding(seconds: -8 * 86_400).rfc3339Milliseconds
    try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: path))

    let requests = [
      "big.json": Sandbox.request(), "paid.json": Sandbox.request(filter: "eq(payment,paid)"),
      "bad.json": "{",
    ]
    for (name, text) in requests { sandbox.drop(name, text) }
    let crashed = try sandbox.run(
      ["process", "--settle", "10ms"] + sandbox.paths, environment: ["JOBDROP_CRASH_AT": point])
    #expect(crashed.status == 128 + SIGKILL, "the run should have been killed at \(point): \(crashed.stderr)")
    try sandbox.process(["--settle", "10ms"])

    let jobs = try sandbox.index()
    let files = jobs.map { (($0["meta"] as! [String: Any])["request"] as! [String: Any])["file"] as! String }
    #expect(files.sorted() == requests.keys.sorted(), "each request exactly one job (the old one expired)")
    #expect(sandbox.list("inbox") == [])
    for job in jobs {
      let id = job["id"] as! String
      let meta = job["meta"] as! [String: Any]
      let file = (meta["request"] as! [String: Any])["file"] as! String
      if file == "bad.json" {
        #expect(job["status"] as? String == "failed")
        continue
      }
      #expect(job["status"] as? String == "success", "\(file) at \(point): \(job["error"] ?? "")")
      let href = (job["link"] as! [String: Any])["href"] as! String
      let bytes = try sandbox.outboxFile(href)
      #expect(SHA256Digest.hex(of: Array(bytes)) == meta["sha256"] as? String)
      #expect(CSV.parse(String(decoding: bytes, as: UTF8.self)).count - 1 == meta["rows"] as? Int)
      #expect(sandbox.list("outbox/files/\(id)").count == 1)
    }
    // One status file and one request per job; nothing temporary or orphaned anywhere.
    let ids = Set(jobs.map { $0["id"] as! String })
    var statusFiles: [String] = []
    for state in JobState.allCases { statusFiles += sandbox.list("spool/\(state.rawValue)") }
    #expect(statusFiles.sorted() == ids.map { "\($0).json" }.sorted())
    #expect(sandbox.list("spool/requests") == ids.map { "\($0).json" }.sorted())
    #expect(Set(sandbox.list("outbox/files")).isSubset(of: ids))
    #expect(!sandbox.list("outbox/files").contains(old))
    let everything = FileManager.default.subpaths(atPath: sandbox.outbox) ?? []
    #expect(
      everything.filter { $0.split(separator: "/").contains { $0.hasPrefix(".") } }.isEmpty, "\(everything)")
  }

  /// A start that dies inside its own recovery (after a cut-short job went back to pending, after a
  /// damaged record was rebuilt, after a claimed upload left the inbox), then a normal start: every
  /// request is still one job under its id, and each succeeds.
  @Test(arguments: ["recovery-cut-short", "recovery-repaired", "recovery-retired"])
  func aCrashInsideRecoveryLosesAndRepeatsNothing(point: String) throws {
    let sandbox = try Sandbox(orders: 20_000)
    let requests = ["big.json": Sandbox.request(), "paid.json": Sandbox.request(filter: "eq(payment,paid)")]
    for (name, text) in requests { sandbox.drop(name, text) }
    let first = try sandbox.run(
      ["process", "--settle", "10ms"] + sandbox.paths, environment: ["JOBDROP_CRASH_AT": "mid-export"])
    #expect(first.status == 128 + SIGKILL, "\(first.stderr)")
    var ids: [String: String] = [:]
    for name in requests.keys { ids[name] = try sandbox.job(file: name)["id"] as? String }
    // One job is cut short (started: a batch's grouped start writes nothing, so a daemon's durable
    // start is made by hand when the kill found it pending); the other one's status file is damaged (a
    // disk fault): recovery sends the first back to pending and rebuilds the second.
    let names: [String] = requests.keys.sorted().map { "\(ids[$0] ?? "").json" }
    let (running, damaged) = (names[0], names[1])
    if !sandbox.list("spool/started").contains(running) {
      try FileManager.default.moveItem(
        atPath: sandbox.spool + "/pending/" + running, toPath: sandbox.spool + "/started/" + running)
    }
    let folder = sandbox.list("spool/started").contains(damaged) ? "started" : "pending"
    try #require(sandbox.list("spool/" + folder).contains(damaged), "\(damaged) is pending or started")
    try Data("{\"id\":".utf8).write(to: URL(fileURLWithPath: sandbox.spool + "/\(folder)/" + damaged))
    #expect(sandbox.list("inbox").sorted() == requests.keys.sorted(), "claimed files wait out the batch")

    let crashed = try sandbox.run(
      ["process", "--settle", "10ms"] + sandbox.paths, environment: ["JOBDROP_CRASH_AT": point])
    #expect(
      crashed.status == 128 + SIGKILL, "the start should have been killed at \(point): \(crashed.stderr)")
    let result = try sandbox.process(["--settle", "10ms"])
    #expect(result.status == 0, "\(result.stderr)")

    let jobs = try sandbox.index()
    #expect(jobs.count == 2, "one job a request: \(jobs.map { $0["id"] ?? "" })")
    for (name, id) in ids {
      let job = try sandbox.job(file: name)
      #expect(job["id"] as? String == id, "\(name) keeps its id")
      #expect(job["status"] as? String == "success", "\(name) at \(point): \(job["error"] ?? "")")
    }
    #expect(sandbox.list("inbox") == [])
    #expect(sandbox.list("spool/requests").sorted() == names.sorted())
  }
}
