import Foundation
import Testing

@testable import JobdropCrypto

/// `split`: parts and their manifest through the real binary, killed mid-way, cut by size, cancelled.
/// (Every format's parts read back and concatenated: `FormatTests`, through `Tests/Formats/read_back.py`.)
@Suite(.timeLimit(.minutes(10))) struct SplitTests {
  /// The manifest of job `id`, if there is one.
  func manifest(_ sandbox: Sandbox, _ id: String) -> [String: Any]? {
    guard let data = try? sandbox.outboxFile("files/\(id)/manifest.json") else { return nil }
    return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
  }

  /// The rows of a split CSV export's parts in order, each part's header checked and dropped.
  func rows(_ sandbox: Sandbox, _ id: String, manifest: [String: Any]) throws -> [[String]] {
    var rows: [[String]] = []
    for part in manifest["parts"] as! [[String: Any]] {
      let name = (part["href"] as! String).split(separator: "/").last!
      let data = try sandbox.outboxFile("files/\(id)/\(name)")
      #expect(SHA256Digest.hex(of: Array(data)) == part["sha256"] as? String)
      let csv = CSV.parse(String(decoding: data, as: UTF8.self))
      #expect(csv.count - 1 == part["rows"] as? Int, "\(name)")
      rows += csv.dropFirst()
    }
    return rows
  }

  /// Killed after the second part is published, or in the middle of the third: no part under its own
  /// name is incomplete, the manifest lists only complete parts and does not say complete; the next run
  /// replaces them with the whole export, whose parts concatenated are the unsplit CSV.
  @Test(arguments: ["part-published#2", "mid-export#3"])
  func aKillInTheMiddleLeavesNothingThatLooksComplete(point: String) throws {
    let sandbox = try Sandbox(orders: 30_000)
    sandbox.drop("parts.json", Sandbox.request(extra: #", "split": {"rows": 8192}"#))
    let crashed = try sandbox.run(["process"] + sandbox.paths, environment: ["JOBDROP_CRASH_AT": point])
    #expect(crashed.status == 128 + SIGKILL, "\(crashed.stderr)")
    let folders = sandbox.list("outbox/files")
    try #require(folders.count == 1)
    let id = folders[0]
    let names = sandbox.list("outbox/files/\(id)").filter { !$0.hasPrefix(".tmp-") }
    // Every part under its own name is whole (the part the kill interrupted is a temp file); the
    // manifest lists the parts published before its last rewrite, and does not say complete.
    for name in names where name != "manifest.json" {
      let csv = CSV.parse(String(decoding: try sandbox.outboxFile("files/\(id)/\(name)"), as: UTF8.self))
      #expect(csv.count == 8193, "\(name) holds \(csv.count - 1) rows")
    }
    if let listed = manifest(sandbox, id) {
      #expect(listed["complete"] as? Bool == false)
      let parts = listed["parts"] as! [[String: Any]]
      #expect(parts.count >= 1 && parts.count >= names.count - 2, "\(names)")
      #expect(try self.rows(sandbox, id, manifest: listed).count == 8192 * parts.count)
    } else {
      #expect(names.count <= 1, "without a manifest, at most the first part: \(names)")
    }

    try sandbox.process()
    sandbox.drop("whole.json", Sandbox.request())
    try sandbox.process()
    let job = try sandbox.job(file: "parts.json")
    #expect(job["status"] as? String == "success")
    #expect(job["id"] as? String == id, "the same job ran again")
    let final = try #require(manifest(sandbox, id))
    #expect(final["complete"] as? Bool == true)
    #expect((final["parts"] as? [Any])?.count == 4)
    #expect(sandbox.list("outbox/files/\(id)").count == 5, "four parts and the manifest, nothing left over")
    let whole = try sandbox.csv(of: try sandbox.job(file: "whole.json"))
    #expect(try rows(sandbox, id, manifest: final) == Array(whole.dropFirst()))
    #expect((job["meta"] as? [String: Any])?["parts"] as? Int == 4)
  }

  /// Parts cut by size: none over the size, each a CSV of whole rows, together the unsplit export.
  @Test func partsCutBySizeAreNeverLargerAndHoldWholeRows() throws {
    let sandbox = try Sandbox(orders: 12_000)
    sandbox.drop("sized.json", Sandbox.request(extra: #", "split": {"bytes": "1MiB"}"#))
    sandbox.drop("whole.json", Sandbox.request())
    try sandbox.process()
    let job = try sandbox.job(file: "sized.json")
    let id = job["id"] as! String
    let listed = try #require(manifest(sandbox, id))
    let parts = listed["parts"] as! [[String: Any]]
    #expect(parts.count >= 2)
    #expect(parts.allSatisfy { ($0["bytes"] as! Int) <= 1 << 20 })
    #expect(parts.dropLast().allSatisfy { ($0["bytes"] as! Int) > (1 << 20) - 4096 }, "filled up to the size")
    #expect(listed["bytes"] as? Int == parts.reduce(0) { $0 + ($1["bytes"] as! Int) })
    #expect((job["meta"] as? [String: Any])?["bytes"] as? Int == listed["bytes"] as? Int)
    let whole = try sandbox.csv(of: try sandbox.job(file: "whole.json"))
    #expect(try rows(sandbox, id, manifest: listed) == Array(whole.dropFirst()))
  }

  /// A split export cancelled while it runs: its parts, its manifest and its folder are gone.
  @Test func aCancelledSplitExportRemovesItsParts() throws {
    let sandbox = try Sandbox(orders: 200)
    try CancelTests.catalog.write(toFile: sandbox.root + "/catalog.json", atomically: true, encoding: .utf8)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--catalog", sandbox.root + "/catalog.json"])
    defer { daemon.stop() }
    sandbox.drop("big.json", #"{"data": {"type": "job", "job_type": "numbers", "split": {"rows": 1000}}}"#)
    let cancels = CancelTests()
    #expect(
      waiter.wait { cancels.document(sandbox, "big.json")?["status"] as? String == "started" },
      "\(daemon.log)")
    let id = try #require(cancels.document(sandbox, "big.json")?["id"] as? String)
    // Parts are published while it runs (the job's progress updates its document, which wakes the wait).
    #expect(waiter.wait { ((manifest(sandbox, id)?["parts"] as? [Any])?.count ?? 0) >= 3 }, "\(daemon.log)")
    sandbox.drop("cancel.json", #"{"cancel": "\#(id)"}"#)
    #expect(waiter.wait { cancels.document(sandbox, "big.json")?["status"] as? String == "failed" })
    #expect(cancels.document(sandbox, "big.json")?["error"] as? String == "cancelled")
    #expect(
      !FileManager.default.fileExists(atPath: sandbox.outbox + "/files/\(id)"),
      "\(sandbox.list("outbox/files/\(id)"))")
  }
}
