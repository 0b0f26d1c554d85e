import Foundation
import JobdropCrypto
import JobdropExport
import JobdropModel
import JobdropState
import JobdropSystem
import Testing

/// `jobdrop process` end to end: real binary, real inbox, real SQLite store, real outbox.
@Suite(.timeLimit(.minutes(10))) struct ProcessCommandTests {
  @Test func exportsExactlyTheRowsTheFilterSelects() throws {
    let sandbox = try Sandbox()
    let filter =
      "gt(created_at,2024-03-01):lt(created_at,2025-10-01):eq(payment,refunded):in(status,complete,processing)"
    sandbox.drop("refunds.json", Sandbox.request(filter: filter, extra: #", "reference": "batch-7""#))
    try sandbox.process()

    let job = try sandbox.job(file: "refunds.json")
    #expect(job["status"] as? String == "success")
    #expect(job["type"] as? String == "job")
    #expect(job["job_type"] as? String == "order_export")
    let id = try #require(job["id"] as? String)
    #expect(JobID.isValid(id))
    let rows = try sandbox.csv(of: job)
    #expect(rows.first == JobType.orderExport.columns.map(\.name))
    let expected = try sandbox.query(
      """
      SELECT id FROM orders WHERE created_at >= '2024-03-02T00:00:00Z' AND created_at < '2025-10-01T00:00:00Z'
      AND payment = 'refunded' AND status IN ('complete', 'processing') ORDER BY rowid
      """)
    #expect(expected.count > 10)
    #expect(rows.dropFirst().map { $0[0] } == expected)
    for row in rows.dropFirst() {
      #expect(row.count == 19)
      #expect(row[4] == "refunded")
    }

    let meta = try #require(job["meta"] as? [String: Any])
    #expect(meta["rows"] as? Int == expected.count)
    let file = try sandbox.outboxFile((job["link"] as! [String: Any])["href"] as! String)
    #expect(meta["bytes"] as? Int == file.count)
    #expect(meta["sha256"] as? String == SHA256Digest.hex(of: Array(file)))
    let request = try #require(meta["request"] as? [String: Any])
    #expect(request["reference"] as? String == "batch-7")
    #expect(request["filter"] as? String == filter)
    #expect(request["dialect"] as? String == "elastic_path")
    #expect((job["links"] as? [String: Any])?["self"] as? String == "jobs/\(id).json")
    let href = try #require((job["link"] as? [String: Any])?["href"] as? String)
    #expect(href.hasPrefix("files/\(id)/order_export-") && href.hasSuffix(".csv"))

    // The job's own documents say the same.
    let document =
      try JSONSerialization.jsonObject(with: sandbox.outboxFile("jobs/\(id).json")) as! [String: Any]
    #expect((document["data"] as? [String: Any])?["id"] as? String == id)
    let link =
      try JSONSerialization.jsonObject(with: sandbox.outboxFile("jobs/\(id)/file.json")) as! [String: Any]
    #expect((link["data"] as? [String: Any])?["href"] as? String == href)
    // Claimed: the inbox is empty, the spool holds one success.
    #expect(sandbox.list("inbox") == [])
    #expect(sandbox.list("spool/success") == ["\(id).json"])
    #expect(sandbox.list("outbox/files/\(id)").count == 1)
  }

  @Test func selectsAndOrdersColumnsAndMatchesProductsThroughOrderItems() throws {
    let sandbox = try Sandbox()
    sandbox.drop(
      "sku.json",
      Sandbox.request(
        filter: "eq(product_sku,SKU-00042)", extra: #", "columns": ["order_number", "with_tax"]"#))
    try sandbox.process()
    let rows = try sandbox.csv(of: try sandbox.job(file: "sku.json"))
    #expect(rows.first == ["order_number", "with_tax"])
    let expected = try sandbox.query(
      "SELECT order_number FROM orders WHERE id IN (SELECT order_id FROM order_items WHERE product_sku = 'SKU-00042') ORDER BY rowid"
    )
    #expect(!expected.isEmpty)
    #expect(rows.dropFirst().map { $0[0] } == expected)
  }

  @Test func guardsFormulaCellsUnlessRaw() throws {
    let sandbox = try Sandbox()
    let names = try sandbox.query(
      "SELECT DISTINCT name FROM orders WHERE name LIKE '=%' OR name LIKE '-%' OR name LIKE '@%'")
    #expect(!names.isEmpty)
    sandbox.drop(
      "guarded.json",
      Sandbox.request(filter: "like(name,\"=*\")", extra: #", "columns": ["name", "with_tax"]"#))
    try sandbox.process()
    let guarded = try sandbox.csv(of: try sandbox.job(file: "guarded.json"))
    #expect(guarded.count > 1)
    for row in guarded.dropFirst() { #expect(row[0].hasPrefix("'=")) }

    sandbox.drop("raw.json", Sandbox.request(filter: "like(name,\"=*\")", extra: #", "columns": ["name"]"#))
    try sandbox.process(["--raw-csv"])
    let raw = try sandbox.csv(of: try sandbox.job(file: "raw.json"))
    for row in raw.dropFirst() { #expect(row[0].hasPrefix("=")) }
  }

  @Test func anEmptyResultFailsLikeElasticPathUnlessEmptyOK() throws {
    let sandbox = try Sandbox()
    let nothing = Sandbox.request(filter: "eq(order_number,NOPE)")
    sandbox.drop("none.json", nothing)
    try sandbox.process()
    let failed = try sandbox.job(file: "none.json")
    #expect(failed["status"] as? String == "failed")
    #expect(failed["error"] as? String == "No results matched the supplied filter")
    #expect(sandbox.list("outbox/files/\(failed["id"] as! String)") == [])

    sandbox.drop("none-ok.json", nothing)
    try sandbox.process(["--empty-ok"])
    let empty = try sandbox.job(file: "none-ok.json")
    #expect(empty["status"] as? String == "success")
    #expect((empty["meta"] as? [String: Any])?["rows"] as? Int == 0)
    #expect(try sandbox.csv(of: empty) == [JobType.orderExport.columns.map(\.name)])
  }

  @Test func runsJobsOldestFirstAndListsThemNewestFirst() throws {
    let sandbox = try Sandbox(orders: 200)
    sandbox.drop("first.json", Sandbox.request())
    try sandbox.process()
    sandbox.drop("second.json", Sandbox.request())
    try sandbox.process()
    let files = try sandbox.index().map {
      (($0["meta"] as! [String: Any])["request"] as! [String: Any])["file"] as! String
    }
    #expect(files == ["second.json", "first.json"])
  }

  @Test func expiresJobsPastTheirTTL() throws {
    let sandbox = try Sandbox(orders: 100)
    sandbox.drop("old.json", Sandbox.request())
    sandbox.drop("new.json", Sandbox.request())
    try sandbox.process()
    let old = try sandbox.job(file: "old.json")["id"] as! String
    let new = try sandbox.job(file: "new.json")["id"] as! String
    // Make "old" eight days old in the spool, as if it had been created then.
    let path = sandbox.spool + "/success/\(old).json"
    var record =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    let eightDaysAgo = Timestamp.now().adding(seconds: -8 * 86_400)
    record["createdAt"] = eightDaysAgo.rfc3339Milliseconds
    try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: path))

    try sandbox.process()
    #expect(try sandbox.index().map { $0["id"] as! String } == [new])
    #expect(!FileManager.default.fileExists(atPath: sandbox.outbox + "/jobs/\(old).json"))
    #expect(!FileManager.default.fileExists(atPath: sandbox.outbox + "/files/\(old)"))
    #expect(sandbox.list("spool/success") == ["\(new).json"])
    #expect(FileManager.default.fileExists(atPath: sandbox.outbox + "/files/\(new)"))
  }

  @Test func rerunsAJobADeadProcessLeftStarted() throws {
    let sandbox = try Sandbox(orders: 300)
    sandbox.drop("a.json", Sandbox.request(filter: "eq(payment,paid)"))
    try sandbox.process()
    let id = try sandbox.job(file: "a.json")["id"] as! String
    // Put the job back in started/ with no file, as a crash mid-export leaves it.
    try FileManager.default.moveItem(
      atPath: sandbox.spool + "/success/\(id).json", toPath: sandbox.spool + "/started/\(id).json")
    try FileManager.default.removeItem(atPath: sandbox.outbox + "/files/\(id)")
    try sandbox.process()
    let job = try sandbox.job(file: "a.json")
    #expect(job["status"] as? String == "success")
    #expect(
      try sandbox.csv(of: job).count - 1
        == (try sandbox.query("SELECT id FROM orders WHERE payment = 'paid'")).count)
    #expect(sandbox.list("spool/started") == [])
    #expect(sandbox.list("spool/success") == ["\(id).json"])
  }

  @Test func aRestartTidiesTheTempFilesOfMoreJobsThanItMayOpenFiles() throws {
    let sandbox = try Sandbox(orders: 50)
    for index in 0..<300 { sandbox.drop("r\(index).json", Sandbox.request(filter: "eq(payment,paid)")) }
    try sandbox.process()
    let ids = try sandbox.index().compactMap { $0["id"] as? String }
    #expect(ids.count == 300)
    // What a process killed while publishing leaves: a temp file in each job's folders.
    for id in ids {
      for folder in ["jobs", "files"] {
        try FileManager.default.createDirectory(
          atPath: sandbox.outbox + "/\(folder)/\(id)", withIntermediateDirectories: true)
        #expect(
          FileManager.default.createFile(
            atPath: sandbox.outbox + "/\(folder)/\(id)/.tmp-1-2-x", contents: Data("x".utf8)))
      }
    }
    // 600 folders to tidy with at most 128 descriptors.
    let result = try Spawn.run(
      "/bin/sh", ["-c", #"ulimit -n 128 && exec "$0" "$@""#, Sandbox.binary, "process"] + sandbox.paths)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(!result.stderr.contains("cannot tidy"), "\(result.stderr)")
    let left = FileManager.default.enumerator(atPath: sandbox.outbox)?.compactMap { $0 as? String }
      .filter { $0.contains(".tmp-") }
    #expect(left == [])
    #expect(try sandbox.index().count == 300)
  }

  @Test func aSecondProcessOnTheSameSpoolSaysSoAndExitsNonZero() throws {
    let sandbox = try Sandbox(orders: 10)
    let spool = try Spool(path: sandbox.spool)
    let lock = try spool.lock()
    let result = try sandbox.run(["process"] + sandbox.paths)
    #expect(result.status != 0)
    #expect(result.stderr.contains("another jobdrop (pid \(getpid())) is already working the spool"))
    withExtendedLifetime(lock) {}
  }

  @Test func publishesReadableFilesAndAbsoluteLinksUnderABaseURL() throws {
    let sandbox = try Sandbox(orders: 50)
    sandbox.drop("a.json", Sandbox.request())
    try sandbox.process(["--base-url", "https://exports.example.com/acme/"])
    let job = try sandbox.job(file: "a.json")
    let id = job["id"] as! String
    #expect(
      (job["links"] as? [String: Any])?["self"] as? String
        == "https://exports.example.com/acme/jobs/\(id).json")
    let href = (job["link"] as? [String: Any])?["href"] as? String ?? ""
    #expect(href.hasPrefix("https://exports.example.com/acme/files/\(id)/"))
    for path in ["index.json", "jobs/\(id).json", "jobs/\(id)/file.json"] {
      let attributes = try FileManager.default.attributesOfItem(atPath: sandbox.outbox + "/" + path)
      #expect(attributes[.posixPermissions] as? Int == 0o644, "\(path)")
    }
    let folder = try FileManager.default.attributesOfItem(atPath: sandbox.outbox + "/files/\(id)")
    #expect(folder[.posixPermissions] as? Int == 0o755)
    #expect(!sandbox.list("outbox").contains { $0.hasPrefix(".") })
  }

  /// Files and folders get their modes whatever the operator's umask (jobdrop changes a mode only when
  /// the umask narrowed it).
  @Test func underARestrictiveUmaskThePublishedSiteIsStillReadableAndTheSpoolPrivate() throws {
    let sandbox = try Sandbox(orders: 50)
    sandbox.drop("a.json", Sandbox.request())
    let result = try Spawn.run(
      "/bin/sh", ["-c", #"umask 077 && exec "$0" "$@""#, Sandbox.binary, "process"] + sandbox.paths,
      directory: sandbox.root)
    #expect(result.status == 0, "\(result.stderr)")
    let job = try sandbox.job(file: "a.json")
    let id = job["id"] as! String
    let file = try #require(sandbox.list("outbox/files/\(id)").first)
    func mode(_ path: String) throws -> Int? {
      try FileManager.default.attributesOfItem(atPath: sandbox.root + "/" + path)[.posixPermissions] as? Int
    }
    for path in [
      "outbox/index.json", "outbox/index.html", "outbox/jobs/\(id).json", "outbox/requests/a.json",
      "outbox/jobs/\(id)/file.json", "outbox/files/\(id)/\(file)",
    ] {
      #expect(try mode(path) == 0o644, "\(path)")
    }
    for path in ["outbox", "outbox/jobs", "outbox/files/\(id)", "outbox/jobs/\(id)"] {
      #expect(try mode(path) == 0o755, "\(path)")
    }
    #expect(try mode("spool/success") == 0o700)
    #expect(try mode("spool/success/\(id).json") == 0o600)
  }

  @Test func runsJobsOnSeveralWorkersEachExactlyOnce() throws {
    let sandbox = try Sandbox(orders: 2000)
    let names = (0..<12).map { "r\($0).json" }
    for (index, name) in names.enumerated() {
      sandbox.drop(name, Sandbox.request(filter: index % 2 == 0 ? "eq(payment,paid)" : "eq(status,complete)"))
    }
    try sandbox.process(["--workers", "3"])
    let paid = try sandbox.query("SELECT id FROM orders WHERE payment = 'paid'").count
    let complete = try sandbox.query("SELECT id FROM orders WHERE status = 'complete'").count
    #expect(try sandbox.index().count == names.count)
    for (index, name) in names.enumerated() {
      let job = try sandbox.job(file: name)
      #expect(job["status"] as? String == "success")
      #expect((job["meta"] as? [String: Any])?["rows"] as? Int == (index % 2 == 0 ? paid : complete))
    }
    #expect(sandbox.list("spool/success").count == names.count)
  }

  @Test func aRestartDoesNotRewriteDocumentsThatDidNotChange() throws {
    let sandbox = try Sandbox(orders: 50)
    sandbox.drop("a.json", Sandbox.request())
    try sandbox.process()
    let id = try sandbox.job(file: "a.json")["id"] as! String
    func inode(_ path: String) throws -> Int {
      (try FileManager.default.attributesOfItem(atPath: sandbox.outbox + "/" + path)[.systemFileNumber]
        as? Int) ?? -1
    }
    let before = try ["jobs/\(id).json", "jobs/\(id)/file.json", "requests/a.json"].map(inode)
    try sandbox.process()
    #expect(try ["jobs/\(id).json", "jobs/\(id)/file.json", "requests/a.json"].map(inode) == before)
  }
}
