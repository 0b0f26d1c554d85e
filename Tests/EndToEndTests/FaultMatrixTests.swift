import Foundation
import JobdropCrypto
import JobdropExport
import JobdropState
import Testing

/// A system call that fails (the debug binary fails the Nth call of a kind where `JOBDROP_FAULTS` says)
/// fails only what it touches: the batch goes on, a refused claim or move is retried, a failed export
/// fails its own job with the system's words, and after a clean run every request is exactly one job with
/// nothing partial or temporary left.
@Suite(.timeLimit(.minutes(10))) struct FaultMatrixTests {
  static let reasons = [
    "EIO": "Input/output error", "ENOSPC": "No space left on device", "EMFILE": "Too many open files",
  ]

  @Test(arguments: [
    "write:ENOSPC:1", "write:EIO:3", "write:ENOSPC:6", "write:EIO:10", "write:ENOSPC:14",
    "fsync:EIO:1", "fsync:ENOSPC:4", "fsync:EIO:9", "fsync:EIO:13", "fsync:ENOSPC:17", "fsync:EIO:21",
    "fsync:EIO:25", "fsync:ENOSPC:29", "write:EIO:20", "write:ENOSPC:30", "rename:EIO:12",
    "rename:ENOSPC:1", "rename:EIO:3", "rename:EIO:5", "rename:ENOSPC:8",
    "open:EMFILE:6", "open:EIO:14", "read:EIO:2", "read:EIO:5", "write:EINTR:2", "fsync:EINTR:3",
  ])
  func eachFaultFailsOnlyWhatItTouches(fault: String) throws {
    let sandbox = try Sandbox(orders: 3000)
    let requests = [
      "all.json": Sandbox.request(), "paid.json": Sandbox.request(filter: "eq(payment,paid)"),
      "bad.json": "{",
    ]
    for (name, text) in requests { sandbox.drop(name, text) }
    let faulted = try sandbox.run(
      ["process", "--settle", "10ms"] + sandbox.paths, environment: ["JOBDROP_FAULTS": fault])
    let code = String(fault.split(separator: ":")[1])
    let reason = FaultMatrixTests.reasons[code]
    #expect(faulted.status == 0 || faulted.status == 1, "\(fault): exit \(faulted.status)\n\(faulted.stderr)")
    if faulted.status == 1, let reason {
      // Only a spool that cannot be written at start stops a run, and it says why.
      #expect(faulted.stderr.contains(reason), "\(fault):\n\(faulted.stderr)")
    }
    if code == "EINTR" { #expect(faulted.status == 0, "EINTR is retried: \(faulted.stderr)") }
    if faulted.status == 0 {
      // A run that went on decided every request itself: none is left for the next one.
      let decided =
        (try? sandbox.index().filter { ["success", "failed"].contains($0["status"] as? String) }) ?? []
      #expect(decided.count == requests.count, "\(fault): \(decided.count) decided\n\(faulted.stderr)")
      #expect(sandbox.list("inbox") == [], "\(fault)")
    }
    try sandbox.process(["--settle", "10ms"])

    let jobs = try sandbox.index()
    let files = jobs.map { (($0["meta"] as! [String: Any])["request"] as! [String: Any])["file"] as! String }
    #expect(files.sorted() == requests.keys.sorted(), "\(fault): each request exactly one job")
    #expect(sandbox.list("inbox") == [])
    var failedByFault = 0
    for job in jobs {
      let meta = job["meta"] as! [String: Any]
      let file = (meta["request"] as! [String: Any])["file"] as! String
      if file == "bad.json" {
        #expect(job["status"] as? String == "failed")
        continue
      }
      if job["status"] as? String == "failed" {
        failedByFault += 1
        let error = job["error"] as? String ?? ""
        #expect(reason.map { error.contains($0) } == true, "\(fault): \(file) failed with: \(error)")
        #expect(!error.contains(sandbox.root), "public errors name no server path: \(error)")
        continue
      }
      #expect(job["status"] as? String == "success", "\(fault): \(file): \(job["error"] ?? "")")
      let href = (job["link"] as! [String: Any])["href"] as! String
      let bytes = try sandbox.outboxFile(href)
      #expect(SHA256Digest.hex(of: Array(bytes)) == meta["sha256"] as? String)
      #expect(CSV.parse(String(decoding: bytes, as: UTF8.self)).count - 1 == meta["rows"] as? Int)
    }
    #expect(failedByFault <= 1, "\(fault): one fault fails at most the one job it touched")
    let ids = Set(jobs.map { $0["id"] as! String })
    var statusFiles: [String] = []
    for state in JobState.allCases { statusFiles += sandbox.list("spool/\(state.rawValue)") }
    #expect(statusFiles.sorted() == ids.map { "\($0).json" }.sorted(), "\(fault)")
    #expect(sandbox.list("spool/requests") == ids.map { "\($0).json" }.sorted())
    let everything = FileManager.default.subpaths(atPath: sandbox.outbox) ?? []
    #expect(
      everything.filter { $0.split(separator: "/").contains { $0.hasPrefix(".") } }.isEmpty, "\(everything)")
  }

  /// A lone job's claim and outcome sync their own files and folders when much waits to be written
  /// (forced here with `JOBDROP_OWN_FILES_SYNC_FROM=0`), so its commit never waits for whatever else is
  /// dirty on the file system (a large `index.json`, an upload in progress): with every `syncfs` failing,
  /// it still succeeds. With little waiting (forced with a threshold no page cache reaches) a lone job's
  /// commit flushes the file system, and a burst's group always does: the first `syncfs` failing refuses
  /// that commit's claims, which stay in the inbox and are claimed again.
  @Test func aLoneJobSyncsItsOwnFilesWhenMuchWaitsAndABurstFlushesTheFileSystem() throws {
    let sandbox = try Sandbox(orders: 300)
    func process(faults: String, ownFilesFrom: Int) throws -> Spawn.Output {
      // Bounded: were a commit to flush the file system where it should not, this run would retry it
      // for ever.
      try Spawn.run(
        "/usr/bin/timeout", ["60", Sandbox.binary, "process", "--settle", "10ms"] + sandbox.paths,
        directory: sandbox.root,
        environment: ProcessInfo.processInfo.environment.merging([
          "JOBDROP_FAULTS": faults, "JOBDROP_OWN_FILES_SYNC_FROM": "\(ownFilesFrom)",
        ]) { $1 })
    }
    sandbox.drop("lone.json", Sandbox.request(filter: "eq(payment,paid)"))
    let lone = try process(faults: "syncfs:EIO:1+", ownFilesFrom: 0)
    #expect(lone.status == 0, "exit \(lone.status): \(lone.stderr)")
    #expect(try sandbox.job(file: "lone.json")["status"] as? String == "success")

    sandbox.drop("quiet.json", Sandbox.request(filter: "eq(payment,paid)"))
    let quiet = try process(faults: "syncfs:EIO:1", ownFilesFrom: Int.max)
    #expect(quiet.status == 0, "exit \(quiet.status): \(quiet.stderr)")
    #expect(quiet.stderr.contains("syncfs") && quiet.stderr.contains("Input/output error"), "\(quiet.stderr)")
    #expect(try sandbox.job(file: "quiet.json")["status"] as? String == "success")

    let burst = (0..<30).map { "burst-\($0).json" }
    for name in burst { sandbox.drop(name, Sandbox.request()) }
    let refused = try process(faults: "syncfs:EIO:1", ownFilesFrom: 0)
    #expect(refused.status == 0, "exit \(refused.status): \(refused.stderr)")
    #expect(
      refused.stderr.contains("syncfs") && refused.stderr.contains("Input/output error"), "\(refused.stderr)")
    #expect(sandbox.list("inbox") == [])
    for name in burst { #expect(try sandbox.job(file: name)["status"] as? String == "success", "\(name)") }
  }
}
