import Foundation
import JobdropCrypto
import JobdropExport
import JobdropModel
import Testing

/// Job types, the Eshopbox dialect, operator catalogs and gzip through the built binary.
@Suite(.timeLimit(.minutes(10))) struct CatalogEndToEndTests {
  @Test func everyJobTypeRunsOnDemoDataAndExportsItsWholeTable() throws {
    let sandbox = try Sandbox(orders: 2000)
    for jobType in Catalog.builtIn.jobTypes {
      sandbox.drop(
        "\(jobType.name).json",
        #"{"jobType": "\#(jobType.name)", "channelId": "0", "fileType": "CSV", "userId": "70", "exportFilters": {}}"#
      )
    }
    try sandbox.process()
    for jobType in Catalog.builtIn.jobTypes {
      let job = try sandbox.job(file: "\(jobType.name).json")
      #expect(job["status"] as? String == "success", "\(jobType.name): \(job["error"] ?? "")")
      let count = Int(try sandbox.query("SELECT count(*) FROM \(jobType.source)")[0])!
      #expect(count > 0, "\(jobType.name) has no demo rows")
      #expect((job["meta"] as? [String: Any])?["rows"] as? Int == count, "\(jobType.name)")
      let rows = try sandbox.csv(of: job)
      #expect(rows.first == jobType.columns.map(\.name))
      #expect(job["jobType"] as? String == jobType.name)
      #expect(job["filePath"] as? String == (job["link"] as? [String: Any])?["href"] as? String)
    }
  }

  @Test func eshopboxFiltersNarrowExactly() throws {
    let sandbox = try Sandbox(orders: 5000)
    sandbox.drop(
      "returns.json",
      #"""
      {"jobType": "order_return", "channelId": "0", "fileType": "CSV", "userId": "70",
       "exportFilters": {"orderCreatedDateRange": "{\"start\":\"2020-01-01\",\"end\":\"2021-06-30\"}",
                         "paymentMethod": "COD", "status": "CREATED,APPROVED", "sku": "", "channel": "{}"}}
      """#)
    sandbox.drop(
      "styles.json",
      #"""
      {"jobType": "product", "fileType": "csv", "columns": ["sku", "style_code"],
       "exportFilters": {"skuStyleCodeEanDropdown": "styleCode", "skuStyleCodeEanDropdownValue": "STY-0003,STY-0007"}}
      """#)
    try sandbox.process()
    let returns = try sandbox.csv(of: try sandbox.job(file: "returns.json"))
    let expected = try sandbox.query(
      """
      SELECT return_id FROM order_return_items WHERE created_at >= '2020-01-01T00:00:00Z'
      AND created_at < '2021-07-01T00:00:00Z' AND payment_method = 'COD' AND status IN ('CREATED', 'APPROVED')
      ORDER BY rowid
      """)
    #expect(expected.count > 5)
    #expect(returns.dropFirst().map { $0[0] } == expected)
    let styles = try sandbox.csv(of: try sandbox.job(file: "styles.json"))
    #expect(styles.first == ["sku", "style_code"])
    #expect(
      styles.dropFirst().map { $0[0] }
        == (try sandbox.query(
          "SELECT sku FROM products WHERE style_code IN ('STY-0003', 'STY-0007') ORDER BY rowid")))
    let job = try sandbox.job(file: "returns.json")
    #expect((job["exportFilters"] as? [String: String])?["paymentMethod"] == "COD")
    #expect(job["userId"] as? String == "70")
  }

  @Test func anOperatorCatalogPointsJobTypesAtTheirOwnTable() throws {
    let sandbox = try Sandbox(orders: 1)
    let database = try SQLiteDatabase(path: sandbox.store, writable: true)
    try database.execute(
      """
      CREATE TABLE refunds (refund_id TEXT, reason TEXT, amount INTEGER, refunded_at TEXT);
      INSERT INTO refunds VALUES ('R1', 'damaged', 1500, '2024-01-02T10:00:00Z'), ('R2', 'late', 900, '2024-02-03T10:00:00Z'),
        ('R3', 'damaged', 300, '2024-03-04T10:00:00Z');
      """)
    let catalog = #"""
      {"job_types": [{"name": "refunds", "summary": "Refunds.", "source": "refunds",
        "columns": [{"name": "refund_id", "type": "text"}, {"name": "amount", "type": "money"}],
        "fields": [{"name": "reason", "type": "enum", "operators": ["eq", "in"], "values": ["damaged", "late"]},
                   {"name": "refunded_at", "type": "timestamp", "operators": ["ge", "le", "lt"]}],
        "eshopbox": {"reason": {"field": "reason"}}}]}
      """#
    try catalog.write(toFile: sandbox.root + "/catalog.json", atomically: true, encoding: .utf8)
    sandbox.drop(
      "r.json",
      #"{"data": {"type": "job", "job_type": "refunds", "filter": "eq(reason,damaged):lt(refunded_at,2024-03-01)"}}"#
    )
    sandbox.drop("e.json", #"{"jobType": "refunds", "exportFilters": {"reason": "late"}}"#)
    try sandbox.process(["--catalog", sandbox.root + "/catalog.json"])
    #expect(
      try sandbox.csv(of: try sandbox.job(file: "r.json")) == [["refund_id", "amount"], ["R1", "1500"]])
    #expect(
      try sandbox.csv(of: try sandbox.job(file: "e.json")) == [["refund_id", "amount"], ["R2", "900"]])
    let listed = try sandbox.run(["catalog", "--catalog", sandbox.root + "/catalog.json"])
    #expect(listed.stdout.contains("## refunds"))
    #expect(listed.stdout.contains("| `reason` | enum | eq in | damaged late |"))
  }

  @Test func aBadCatalogFileStopsTheDaemonAtStartWithAPointedError() throws {
    let sandbox = try Sandbox(orders: 1)
    try #"{"job_types": [{"name": "x", "summary": "", "source": "t", "columns": [], "fields": []}]}"#
      .write(toFile: sandbox.root + "/bad.json", atomically: true, encoding: .utf8)
    let result = try sandbox.run(["run", "--catalog", sandbox.root + "/bad.json"] + sandbox.paths)
    #expect(result.status != 0)
    #expect(
      result.stderr.contains(
        "--catalog: \(sandbox.root)/bad.json: job type 'x': columns: declare at least one column"))
  }

  @Test func gzipExportsDecompressToTheSameCSVAndHashTheFileAsPublished() throws {
    let sandbox = try Sandbox(orders: 3000)
    sandbox.drop("plain.json", Sandbox.request(filter: "eq(payment,paid)"))
    sandbox.drop("packed.json", Sandbox.request(filter: "eq(payment,paid)", extra: #", "format": "csv.gz""#))
    try sandbox.process()
    let packed = try sandbox.job(file: "packed.json")
    let href = try #require((packed["link"] as? [String: Any])?["href"] as? String)
    #expect(href.hasSuffix(".csv.gz"))
    let compressed = try sandbox.outboxFile(href)
    #expect(compressed.starts(with: [0x1F, 0x8B]))
    #expect(
      (packed["meta"] as? [String: Any])?["sha256"] as? String == SHA256Digest.hex(of: Array(compressed)))
    #expect((packed["meta"] as? [String: Any])?["bytes"] as? Int == compressed.count)
    let unpacked = try Spawn.run("/bin/gzip", ["-dc", sandbox.outbox + "/" + href])
    #expect(unpacked.status == 0)
    let plainHref = try #require(
      (try sandbox.job(file: "plain.json")["link"] as? [String: Any])?["href"] as? String)
    #expect(Data(unpacked.stdout.utf8) == (try sandbox.outboxFile(plainHref)))
  }
}
