import Foundation
import JobdropDemo
import JobdropExport
import Testing

/// A temp directory with an inbox, spool, outbox and a demo store, and the built `jobdrop` binary to run
/// against them.
final class Sandbox {
  let root: String
  var inbox: String { root + "/inbox" }
  var outbox: String { root + "/outbox" }
  var spool: String { root + "/spool" }
  var store: String { root + "/store.sqlite" }

  /// The `jobdrop` executable next to the test bundle (or `JOBDROP_BINARY`).
  static let binary: String = {
    if let path = ProcessInfo.processInfo.environment["JOBDROP_BINARY"] { return path }
    let exe =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("jobdrop").path
  }()

  init(orders: Int = 2000) throws {
    root = NSTemporaryDirectory() + "jobdrop-e2e-" + UUID().uuidString.lowercased()
    try FileManager.default.createDirectory(atPath: root + "/inbox", withIntermediateDirectories: true)
    try DemoData(orders: orders).generate(at: store)
  }

  deinit { try? FileManager.default.removeItem(atPath: root) }

  /// The options that point a command at this sandbox.
  var paths: [String] {
    ["--inbox", inbox, "--spool", spool, "--outbox", outbox, "--source", "sqlite:" + store]
  }

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs `jobdrop` with `arguments` and waits for it.
  @discardableResult
  func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
    let output = try Spawn.run(
      Sandbox.binary, arguments, directory: root,
      environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    return Result(status: output.status, stdout: output.stdout, stderr: output.stderr)
  }

  /// Runs `jobdrop process` on this sandbox and expects it to succeed.
  @discardableResult
  func process(_ extra: [String] = [], environment: [String: String] = [:]) throws -> Result {
    let result = try run(["process"] + paths + extra, environment: environment)
    #expect(result.status == 0, "jobdrop process failed: \(result.stderr)")
    return result
  }

  /// Writes a request file into the inbox.
  func drop(_ name: String, _ text: String) {
    _ = FileManager.default.createFile(atPath: inbox + "/" + name, contents: Data(text.utf8))
  }

  /// An Elastic Path request for `order_export`.
  static func request(filter: String? = nil, extra: String = "") -> String {
    let filterPart = filter.map { ", \"filter\": \(Sandbox.quote($0))" } ?? ""
    return #"{"data": {"type": "job", "job_type": "order_export"\#(filterPart)\#(extra)}}"#
  }

  static func quote(_ text: String) -> String {
    String(
      decoding: try! JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes]),
      as: UTF8.self
    )
    .dropFirst().dropLast().description
  }

  /// `index.json`'s jobs.
  func index() throws -> [[String: Any]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: outbox + "/index.json"))
    let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    return object["data"] as! [[String: Any]]
  }

  /// The job dropped as `file`, from the index.
  func job(file: String) throws -> [String: Any] {
    let jobs = try index().filter {
      (($0["meta"] as? [String: Any])?["request"] as? [String: Any])?["file"] as? String == file
    }
    try #require(jobs.count == 1, "expected exactly one job for \(file), found \(jobs.count)")
    return jobs[0]
  }

  /// A published outbox file's bytes.
  func outboxFile(_ relative: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: outbox + "/" + relative))
  }

  /// The CSV of a successful job, parsed.
  func csv(of job: [String: Any]) throws -> [[String]] {
    let href = try #require((job["link"] as? [String: Any])?["href"] as? String)
    return CSV.parse(String(decoding: try outboxFile(href), as: UTF8.self))
  }

  /// The first column of every row a SQL query over the store returns.
  func query(_ sql: String) throws -> [String] {
    let database = try SQLiteDatabase(path: store)
    let statement = try database.prepare(sql)
    var values: [String] = []
    while try statement.step() { values.append(statement.text(at: 0) ?? "") }
    return values
  }

  func list(_ relative: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + relative)) ?? []).sorted()
  }
}

/// An RFC 4180 reader for checking exports.
enum CSV {
  static func parse(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var characters = Array(text.unicodeScalars)[...]
    while let scalar = characters.popFirst() {
      if quoted {
        if scalar == "\"" {
          if characters.first == "\"" {
            field.unicodeScalars.append("\"")
            characters.removeFirst()
          } else {
            quoted = false
          }
        } else {
          field.unicodeScalars.append(scalar)
        }
      } else if scalar == "\"" {
        quoted = true
      } else if scalar == "," {
        row.append(field)
        field = ""
      } else if scalar == "\r" && characters.first == "\n" {
        characters.removeFirst()
        row.append(field)
        rows.append(row)
        row = []
        field = ""
      } else {
        field.unicodeScalars.append(scalar)
      }
    }
    if !field.isEmpty || !row.isEmpty { rows.append(row + [field]) }
    return rows
  }
}
