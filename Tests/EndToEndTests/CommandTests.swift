import Foundation
import Testing

/// `validate`, `status` and `demo-data` through the binary.
@Suite(.timeLimit(.minutes(10))) struct CommandTests {
  @Test func validateSaysWhatIsWrongAndExitsOne() throws {
    let sandbox = try Sandbox(orders: 1)
    _ = FileManager.default.createFile(
      atPath: sandbox.root + "/good.json", contents: Data(Sandbox.request(filter: "eq(payment,paid)").utf8))
    _ = FileManager.default.createFile(
      atPath: sandbox.root + "/bad.json", contents: Data(Sandbox.request(filter: "eq(colour,red)").utf8))
    let good = try sandbox.run(["validate", sandbox.root + "/good.json"])
    #expect(good.status == 0)
    #expect(good.stdout == "valid: order_export (elastic_path), filter eq(payment,paid)\n")
    let bad = try sandbox.run(["validate", sandbox.root + "/bad.json"])
    #expect(bad.status == 1)
    #expect(
      bad.stderr.contains("bad.json: filter: unknown field 'colour' at 4 (fields: store, status, payment,"))
  }

  @Test func statusShowsATableAndOneJobsDocument() throws {
    let sandbox = try Sandbox(orders: 20)
    sandbox.drop("a.json", Sandbox.request())
    sandbox.drop("b.json", "nope")
    try sandbox.process()
    let table = try sandbox.run(["status"] + sandbox.paths)
    #expect(table.status == 0)
    let lines = table.stdout.split(separator: "\n")
    #expect(lines.count == 3)
    #expect(lines[0].hasPrefix("ID"))
    #expect(lines.contains { $0.contains("success") && $0.contains("order_export") && $0.contains("a.json") })
    #expect(lines.contains { $0.contains("failed") && $0.contains("request is not valid JSON") })
    let id = try sandbox.job(file: "a.json")["id"] as! String
    let one = try sandbox.run(["status", id] + sandbox.paths)
    #expect(one.status == 0)
    #expect(Data(one.stdout.utf8) == (try sandbox.outboxFile("jobs/\(id).json")))
    let missing = try sandbox.run(["status", "00000000-0000-4000-8000-000000000000"] + sandbox.paths)
    #expect(missing.status == 1)
  }

  @Test func demoDataIsTheSameEveryTime() throws {
    let sandbox = try Sandbox(orders: 1)
    for name in ["a", "b"] {
      let result = try sandbox.run([
        "demo-data", "--orders", "500", "--source", "sqlite:\(sandbox.root)/\(name).sqlite",
      ])
      #expect(result.status == 0)
    }
    sandbox.drop("x.json", Sandbox.request())
    let a = try sandbox.run([
      "process", "--source", "sqlite:\(sandbox.root)/a.sqlite", "--inbox", sandbox.inbox, "--spool",
      sandbox.spool, "--outbox", sandbox.root + "/out-a",
    ])
    #expect(a.status == 0)
    sandbox.drop("x.json", Sandbox.request())
    let b = try sandbox.run([
      "process", "--source", "sqlite:\(sandbox.root)/b.sqlite", "--inbox", sandbox.inbox, "--spool",
      sandbox.root + "/spool-b", "--outbox", sandbox.root + "/out-b",
    ])
    #expect(b.status == 0)
    let files = ["out-a", "out-b"].map { out in
      FileManager.default.subpaths(atPath: sandbox.root + "/" + out + "/files")!.filter {
        $0.hasSuffix(".csv")
      }
      .map { FileManager.default.contents(atPath: sandbox.root + "/" + out + "/files/" + $0)! }
    }
    #expect(files[0].count == 1 && files[1].count == 1)
    #expect(files[0] == files[1])
    #expect(CSV.parse(String(decoding: files[0][0], as: UTF8.self)).count == 501)
  }

  @Test func badOptionsAreNamed() throws {
    let sandbox = try Sandbox(orders: 1)
    let result = try sandbox.run(["process", "--ttl", "forever"] + sandbox.paths)
    #expect(result.status != 0)
    #expect(
      result.stderr.contains(
        "--ttl: expected a duration from 1s to 36500d, such as 7d, 36h or 90s, got 'forever'"))
  }
}
