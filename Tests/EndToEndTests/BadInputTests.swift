import Foundation
import Testing

/// Whatever a partner drops, the daemon does not crash, hang or lose another request.
@Suite(.timeLimit(.minutes(10))) struct BadInputTests {
  static let cases: [(name: String, content: [UInt8], error: String)] = [
    (
      "malformed.json", Array("{\"data\": {\"type\": job}}".utf8),
      "request is not valid JSON: unexpected 'j', expected a value at line 1, column 19"
    ),
    ("empty.json", [], "request is not valid JSON: empty document at line 1, column 1"),
    (
      "binary.json", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00],
      "request is not valid JSON: unexpected byte 0x89, expected a value at line 1, column 1"
    ),
    (
      "latin1.json",
      Array("{\"data\": {\"type\": \"job\", \"job_type\": \"caf".utf8) + [0xE9] + Array("\"}}".utf8),
      "request is not valid JSON: invalid UTF-8 (byte 0xe9)"
    ),
    ("array.json", Array("[{\"data\": {}}]".utf8), "request: expected a JSON object, found an array"),
    (
      "types.json", Array("{\"data\": {\"type\": \"job\", \"job_type\": [\"order_export\"]}}".utf8),
      "data.job_type: expected a string, found an array"
    ),
    (
      "unknown.json",
      Array(Sandbox.request().replacingOccurrences(of: "order_export", with: "orders_export").utf8),
      "data.job_type: unknown job type 'orders_export' (job types: order_export, get_listing,"
    ),
    (
      "filter.json", Array(Sandbox.request(filter: "eq(status,shipped)").utf8),
      "filter: 'shipped' is not a status at 11 (status is one of: incomplete, complete, processing, cancelled)"
    ),
    (
      "huge.json",
      Array(
        ("{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\", \"reference\": \""
          + String(repeating: "x", count: 1 << 20) + "\"}}").utf8),
      "request is larger than 1 MiB (1048577 bytes or more)"
    ),
  ]

  @Test func everyBadRequestBecomesAFailedJobThatSaysWhy() throws {
    let sandbox = try Sandbox(orders: 50)
    for entry in BadInputTests.cases {
      _ = FileManager.default.createFile(
        atPath: sandbox.inbox + "/" + entry.name, contents: Data(entry.content))
    }
    sandbox.drop("good.json", Sandbox.request())
    try sandbox.process(["--settle", "100ms"])
    for entry in BadInputTests.cases {
      let job = try sandbox.job(file: entry.name)
      #expect(job["status"] as? String == "failed", "\(entry.name)")
      let error = job["error"] as? String ?? ""
      #expect(error.hasPrefix(entry.error), "\(entry.name): \(error)")
      #expect((job["link"] as? [String: Any])?["href"] as? String == "")
    }
    #expect(try sandbox.job(file: "good.json")["status"] as? String == "success")
    #expect(sandbox.list("inbox") == [])
    #expect(sandbox.list("spool/requests").count == BadInputTests.cases.count + 1)
  }

  @Test func aCutShortRequestIsRetriedUntilItSettlesThenFails() throws {
    let sandbox = try Sandbox(orders: 50)
    sandbox.drop("cut.json", "{\"data\": {\"type\": \"job\", \"job_ty")
    // Long enough that the first scan finds it still settling even on a loaded machine (with 300 ms, a
    // CI run whose process started late found it settled already).
    let result = try sandbox.process(["--settle", "3s"])
    #expect(result.stderr.contains("waiting for a cut-short request to settle"))
    let job = try sandbox.job(file: "cut.json")
    #expect(job["status"] as? String == "failed")
    #expect(
      job["error"] as? String
        == "request is not valid JSON: unexpected end of input inside a string at line 1, column 33")
  }

  @Test func inFlightUploadsAndOtherNamesAreLeftAlone() throws {
    let sandbox = try Sandbox(orders: 10)
    let untouched = [
      ".hidden.json", "a.json.part", "a.json.filepart", "a.json.tmp", "a.json.partial", "a.json~",
      "notes.txt",
    ]
    for name in untouched { sandbox.drop(name, Sandbox.request()) }
    try sandbox.process()
    #expect(sandbox.list("inbox") == untouched.sorted())
    #expect(try sandbox.index().isEmpty)
  }

  @Test func specialFilesAreNeverOpenedAndPublishNothing() throws {
    let sandbox = try Sandbox(orders: 10)
    _ = FileManager.default.createFile(
      atPath: sandbox.root + "/secret.json", contents: Data(Sandbox.request().utf8))
    try FileManager.default.createSymbolicLink(
      atPath: sandbox.inbox + "/link.json", withDestinationPath: sandbox.root + "/secret.json")
    #expect(mkfifo(sandbox.inbox + "/fifo.json", 0o644) == 0)
    try FileManager.default.createDirectory(
      atPath: sandbox.inbox + "/dir.json", withIntermediateDirectories: false)
    let result = try sandbox.process()
    #expect(try sandbox.index().isEmpty)
    #expect(sandbox.list("inbox") == ["dir.json", "fifo.json", "link.json"])
    #expect(result.stderr.contains("not a regular file; left in the inbox"))
  }

  @Test func aFileNameThatIsNotUTF8FailsWithAReadableName() throws {
    let sandbox = try Sandbox(orders: 10)
    let name = Array("caf".utf8) + [0xE9] + Array(".json".utf8)
    let path = Array(sandbox.inbox.utf8) + [0x2F] + name + [0]
    let fd = path.withUnsafeBufferPointer {
      $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) }
    }
    #expect(fd >= 0)
    _ = Sandbox.request().withCString { write(fd, $0, strlen($0)) }
    close(fd)
    try sandbox.process()
    let job = try sandbox.job(file: "caf\u{FFFD}.json")
    #expect(job["status"] as? String == "failed")
    #expect(job["error"] as? String == "request file name is not valid UTF-8: 'caf\u{FFFD}.json'")
  }
}
