import Foundation
import Testing

/// Every format read back by readers jobdrop did not write (`Tests/Formats/read_back.py`: Python's csv,
/// json and gzip, and openpyxl), row for row against the plain CSV of the same request, on SQLite and on
/// PostgreSQL (whose values arrive as text).
@Suite(.timeLimit(.minutes(10))) struct FormatTests {
  /// (file, request): each group's reference names what it is compared with.
  static var requests: [(String, String)] {
    let all = #", "reference": "all orders""#
    let formulas =
      #", "reference": "formulas", "columns": ["name", "external_ref", "with_tax", "item_count", "created_at"]"#
    let formulaFilter = #"like(name,"=*")"#
    var requests: [(String, String)] = []
    for (name, extra) in [
      ("csv", ""), ("csv.gz", #", "format": "csv.gz""#), ("jsonl", #", "format": "jsonl""#),
      ("jsonl.gz", #", "format": "JSONL.GZ""#), ("xlsx", #", "format": "xlsx""#),
      ("semicolon-bom", #", "delimiter": ";", "bom": true"#), ("tab", #", "delimiter": "\t""#),
      ("pipe-gz", #", "format": "csv.gz", "delimiter": "|""#), ("csv.zst", #", "format": "csv.zst""#),
      ("jsonl.zst", #", "format": "jsonl.zst""#), ("parquet", #", "format": "parquet""#),
      ("tab-zst", #", "format": "csv.zst", "delimiter": "\t", "bom": true"#),
      ("split-csv", #", "split": {"rows": 1000}"#),
      ("split-gz", #", "format": "csv.gz", "split": {"rows": 1000}"#),
      ("split-parquet", #", "format": "parquet", "split": {"rows": 1000}"#),
      ("split-xlsx", #", "format": "xlsx", "split": {"rows": 1250}"#),
      ("split-jsonl-zst", #", "format": "jsonl.zst", "split": {"rows": 1000}"#),
      ("split-bytes", #", "split": {"bytes": "1MiB"}"#),
    ] {
      requests.append(("all-\(name).json", Sandbox.request(extra: all + extra)))
    }
    for format in ["csv", "jsonl", "xlsx", "parquet"] {
      requests.append(
        (
          "formulas-\(format).json",
          Sandbox.request(filter: formulaFilter, extra: formulas + #", "format": "\#(format)""#)
        ))
    }
    for fileType in ["CSV", "XLSX", "jsonl", "PARQUET"] {
      requests.append(
        (
          "returns-\(fileType).json",
          #"{"jobType": "order_return", "fileType": "\#(fileType)", "reference": "eshopbox returns", "#
            + #""exportFilters": {"paymentMethod": "COD"}}"#
        ))
    }
    return requests
  }

  @Test(arguments: ["sqlite", "postgres"])
  func everyFormatHoldsTheRowsOfTheCSV(database: String) throws {
    let sandbox = try Sandbox(orders: 3000)
    var server: PostgresServer?
    var options: [String] = []
    if database == "postgres" {
      server = try PostgresServer(directory: sandbox.root)
      let created = try sandbox.run(["demo-data", "--orders", "3000", "--source", server!.url])
      #expect(created.status == 0, "\(created.stderr)")
      options = ["--source", server!.url]
    }
    for (file, request) in FormatTests.requests { sandbox.drop(file, request) }
    try sandbox.process(options)
    let catalog = sandbox.root + "/catalog.json"
    let printed = try sandbox.run(["catalog", "--json"])
    try printed.stdout.write(toFile: catalog, atomically: true, encoding: .utf8)
    let script = NginxTests.repository.appendingPathComponent("Tests/Formats/read_back.py").path
    let result = try Spawn.run("/usr/bin/env", ["python3", script, sandbox.outbox, catalog])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr.suffix(3000))")
    #expect(result.stdout.contains("checked \(FormatTests.requests.count) files"), "\(result.stdout)")
    // The formula guard holds in every format, the workbook included.
    #expect(result.stdout.contains("formulas xlsx: "))
    let guarded = try sandbox.csv(of: try sandbox.job(file: "formulas-csv.json"))
    #expect(guarded.count > 1 && guarded.dropFirst().allSatisfy { $0[0].hasPrefix("'=") })
    _ = server
  }

  @Test func aFormatOrOptionThatDoesNotExistFailsWithWhatIsAllowed() throws {
    let sandbox = try Sandbox(orders: 200)
    let cases = [
      (
        "pdf.json", Sandbox.request(extra: #", "format": "pdf""#),
        "data.format: unknown format 'pdf' (formats: csv, csv.gz, jsonl, jsonl.gz, csv.zst, jsonl.zst, xlsx, parquet)"
      ),
      (
        "colon.json", Sandbox.request(extra: #", "delimiter": ":""#),
        #"data.delimiter: ':' is not allowed (delimiters: ",", ";", "|" or "\t")"#
      ),
      (
        "bom.json", Sandbox.request(extra: #", "bom": "yes""#),
        "data.bom: expected true or false, found a string"
      ),
      (
        "jsonl-bom.json", Sandbox.request(extra: #", "format": "jsonl", "bom": true"#),
        "data.bom: only CSV exports take it (this request's format is jsonl)"
      ),
      (
        "eshopbox.json", #"{"jobType": "order_return", "fileType": "PDF"}"#,
        "fileType: 'PDF' is not supported (file types: CSV, CSV.GZ, JSONL, JSONL.GZ, CSV.ZST, JSONL.ZST, XLSX, PARQUET)"
      ),
    ]
    for (file, request, _) in cases { sandbox.drop(file, request) }
    try sandbox.process()
    for (file, _, error) in cases {
      let job = try sandbox.job(file: file)
      #expect(job["status"] as? String == "failed")
      #expect(job["error"] as? String == error)
    }
  }
}
