import Foundation
import JobdropModel
import Testing

/// PostgreSQL as the data source: a real server, the same bytes as SQLite, and the fault cases.
@Suite(.serialized, .timeLimit(.minutes(10))) struct PostgresTests {
  static let requests: [(String, String)] = {
    var requests = Catalog.builtIn.jobTypes.map {
      ("\($0.name).json", #"{"jobType": "\#($0.name)", "exportFilters": {}}"#)
    }
    let filters = [
      "gt(created_at,2024-03-01):lt(created_at,2025-10-01):eq(payment,refunded)",
      "like(name,\"ron*\"):in(status,complete,processing)", "eq(product_sku,SKU-00042)",
      "is_null(external_ref)",
      "ge(with_tax,20000):le(without_tax,30000)", "like(email,\"*@example.com\"):eq(currency,GBP)",
      "eq(created_at,2025-05-17)",
    ]
    for (index, filter) in filters.enumerated() {
      requests.append(("filter-\(index).json", Sandbox.request(filter: filter)))
    }
    requests.append(
      (
        "returns.json",
        #"{"jobType": "order_return", "exportFilters": {"orderCreatedDateRange": "{\"start\":\"2020-01-01\",\"end\":\"2021-06-30\"}", "paymentMethod": "COD"}}"#
      ))
    requests.append(("columns.json", Sandbox.request(extra: #", "columns": ["created_at", "name", "tax"]"#)))
    return requests
  }()

  @Test func everyJobTypeAndFilterGivesTheSameBytesAsSQLite() throws {
    let sandbox = try Sandbox(orders: 3000)
    let server = try PostgresServer(directory: sandbox.root)
    let created = try sandbox.run(["demo-data", "--orders", "3000", "--source", server.url])
    #expect(created.status == 0, "\(created.stderr)")
    #expect(!created.stdout.contains(PostgresServer.password))
    // Statistics now (autovacuum may not have run): an index scan is cut at the histogram's bounds.
    #expect(try server.psql("ANALYZE").status == 0)
    // "sliced": large exports read in slices of 2 blocks on two connections (PostgresSliceScan).
    for (name, source) in [
      ("sqlite", "sqlite:" + sandbox.store), ("postgres", server.url), ("sliced", server.url),
    ] {
      let inbox = sandbox.root + "/inbox-\(name)"
      try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
      // The server logs the sliced run's statements (a role setting: every new session has it).
      if name == "sliced" {
        #expect(try server.psql("ALTER ROLE jobdrop SET log_statement = 'all'").status == 0)
      }
      for (file, text) in PostgresTests.requests {
        _ = FileManager.default.createFile(atPath: inbox + "/" + file, contents: Data(text.utf8))
      }
      let result = try sandbox.run(
        [
          "process", "--inbox", inbox, "--spool", sandbox.root + "/spool-\(name)", "--outbox",
          sandbox.root + "/outbox-\(name)", "--source", source, "--log-level", "debug",
        ], environment: name == "sliced" ? ["JOBDROP_POSTGRES_SLICE_BLOCKS": "2"] : [:])
      #expect(result.status == 0, "\(result.stderr)")
      #expect(!result.stderr.contains(PostgresServer.password))
    }
    func digests(_ name: String) throws -> [String: String] {
      let data = try Data(contentsOf: URL(fileURLWithPath: sandbox.root + "/outbox-\(name)/index.json"))
      let jobs = (try JSONSerialization.jsonObject(with: data) as! [String: Any])["data"] as! [[String: Any]]
      var result: [String: String] = [:]
      for job in jobs {
        let meta = job["meta"] as! [String: Any]
        let file = (meta["request"] as! [String: Any])["file"] as! String
        #expect(job["status"] as? String == "success", "\(name) \(file): \(job["error"] ?? "")")
        result[file] = "\(meta["rows"] ?? "-") \(meta["sha256"] ?? "-")"
      }
      return result
    }
    let sqlite = try digests("sqlite")
    let postgres = try digests("postgres")
    let sliced = try digests("sliced")
    let log = server.log
    #expect(log.contains("SET TRANSACTION SNAPSHOT"), "the sliced run shared a snapshot")
    #expect(log.contains("ctid >= '(2,0)'::tid AND ctid < '(4,0)'::tid"), "the sliced run read slices")
    #expect(
      log.contains("created_at >= (current_setting('jobdrop.keys')::text[])[2] AND created_at < "),
      "the sliced run read an index scan in ranges of its keys")
    #expect(log.contains("created_at IS NULL AND"), "and the NULL keys last")

    #expect(sqlite.count == PostgresTests.requests.count)
    for (file, _) in PostgresTests.requests {
      #expect(
        sqlite[file] != nil && sqlite[file] == postgres[file] && sqlite[file] == sliced[file],
        "\(file): sqlite \(sqlite[file] ?? "") postgres \(postgres[file] ?? "") sliced \(sliced[file] ?? "")")
    }
  }

  /// An index scan that returns NULL keys (`is_null` on an indexed column where few rows are NULL) read
  /// in key ranges: only the last range, of NULL keys, holds rows, and the export is the one scan's rows
  /// in its order, as many as SQL counts.
  @Test func anIndexScanOfNullKeysIsReadInItsLastRange() throws {
    let sandbox = try Sandbox(orders: 3000)
    let server = try PostgresServer(directory: sandbox.root)
    #expect(try sandbox.run(["demo-data", "--orders", "3000", "--source", server.url]).status == 0)
    let prepared = try server.psql(
      "UPDATE orders SET external_ref = CASE WHEN id IN (SELECT id FROM orders ORDER BY id LIMIT 7) "
        + "THEN NULL ELSE 'ref-' || id END; CREATE INDEX orders_external_ref ON orders (external_ref); ANALYZE"
    )
    #expect(prepared.status == 0, "\(prepared.stderr)")
    // The server's statements in its log; and no bitmap scan, which the planner may prefer for 7 rows.
    #expect(try server.psql("ALTER ROLE jobdrop SET log_statement = 'all'").status == 0)
    #expect(try server.psql("ALTER ROLE jobdrop SET enable_bitmapscan = off").status == 0)
    var files: [String: Data] = [:]
    for (name, blocks) in [("sliced", "2"), ("whole", "512")] {
      let inbox = sandbox.root + "/inbox-\(name)"
      try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
      try Sandbox.request(filter: "is_null(external_ref)").write(
        toFile: inbox + "/nulls.json", atomically: true, encoding: .utf8)
      let result = try sandbox.run(
        [
          "process", "--inbox", inbox, "--spool", sandbox.root + "/spool-\(name)", "--outbox",
          sandbox.root + "/outbox-\(name)", "--source", server.url,
        ], environment: ["JOBDROP_POSTGRES_SLICE_BLOCKS": blocks])
      #expect(result.status == 0, "\(result.stderr)")
      let folder = sandbox.root + "/outbox-\(name)/files"
      for id in try FileManager.default.contentsOfDirectory(atPath: folder) {
        for file in try FileManager.default.contentsOfDirectory(atPath: folder + "/" + id) {
          files[name] = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(id)/\(file)"))
        }
      }
    }
    let log = server.log
    #expect(log.contains("WHERE external_ref IS NULL AND (external_ref IS NULL)"), "the last range was read")
    #expect(log.contains("external_ref < (current_setting('jobdrop.keys')::text[])[1]"), "the first too")
    let csv = String(decoding: files["sliced"] ?? Data(), as: UTF8.self)
    #expect(csv.split(separator: "\r\n").count == 1 + 7, "a header and the 7 rows: \(csv)")
    #expect(files["sliced"] != nil && files["sliced"] == files["whole"], "the same bytes as one scan")
  }

  /// Over TLS (`sslmode=require`, the server's certificate made here) a sliced export and a whole one
  /// give the bytes of a plain connection: libpq waits for the rows there (bytes it has read may wait
  /// in OpenSSL's buffer, which a wait on the socket would not see).
  @Test func overTLSTheRowsAreTheSame() throws {
    let sandbox = try Sandbox(orders: 3000)
    let server = try PostgresServer(directory: sandbox.root)
    #expect(try sandbox.run(["demo-data", "--orders", "3000", "--source", server.url]).status == 0)
    let data = server.directory + "/data"
    let made = try Spawn.run(
      "/usr/bin/openssl",
      [
        "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
        data + "/server.key", "-out", data + "/server.crt",
      ])
    #expect(made.status == 0, "\(made.stderr)")
    if getuid() == 0 {
      _ = try Spawn.run("/bin/chown", ["postgres:postgres", data + "/server.key", data + "/server.crt"])
    }
    #expect(chmod(data + "/server.key", 0o600) == 0)
    // One statement a call: ALTER SYSTEM runs outside a transaction.
    for sql in [
      "ALTER SYSTEM SET ssl = on", "ALTER SYSTEM SET log_connections = on", "SELECT pg_reload_conf()",
    ] {
      let done = try server.psql(sql)
      #expect(done.status == 0, "\(sql): \(done.stderr)")
    }
    // The reload is asynchronous: wait until the server takes a TLS connection (bounded).
    let deadline = Date().addingTimeInterval(20)
    var tls = false
    while !tls && Date() < deadline {
      tls =
        try Spawn.run(
          "/usr/bin/psql", ["-X", "-q", "-d", server.url + "?sslmode=require", "-c", "SELECT 1"],
          environment: ProcessInfo.processInfo.environment
        ).status == 0
    }
    #expect(tls, "the server took no TLS connection")
    var digests: [String: String] = [:]
    for (name, mode, blocks) in [
      ("plain", "disable", "512"), ("tls", "require", "512"), ("tls-sliced", "require", "2"),
    ] {
      let inbox = sandbox.root + "/inbox-\(name)"
      try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
      let filters: [(String, String?)] = [
        ("all.json", nil), ("range.json", "gt(created_at,2024-03-01):lt(created_at,2025-10-01)"),
      ]
      for (file, filter) in filters {
        try Sandbox.request(filter: filter).write(
          toFile: inbox + "/" + file, atomically: true, encoding: .utf8)
      }
      let result = try sandbox.run(
        [
          "process", "--inbox", inbox, "--spool", sandbox.root + "/spool-\(name)", "--outbox",
          sandbox.root + "/outbox-\(name)", "--source", server.url + "?sslmode=\(mode)",
        ], environment: ["JOBDROP_POSTGRES_SLICE_BLOCKS": blocks])
      #expect(result.status == 0, "\(result.stderr)")
      let index = try Data(contentsOf: URL(fileURLWithPath: sandbox.root + "/outbox-\(name)/index.json"))
      let jobs = (try JSONSerialization.jsonObject(with: index) as! [String: Any])["data"] as! [[String: Any]]
      for job in jobs {
        let meta = job["meta"] as! [String: Any]
        let file = (meta["request"] as! [String: Any])["file"] as! String
        #expect(job["status"] as? String == "success", "\(name) \(file): \(job["error"] ?? "")")
        digests["\(name) \(file)"] = "\(meta["rows"] ?? "-") \(meta["sha256"] ?? "-")"
      }
    }
    let log = server.log
    #expect(log.contains("SSL enabled"), "the exports connected over TLS")
    for file in ["all.json", "range.json"] {
      let plain = digests["plain \(file)"]
      #expect(
        plain != nil && plain == digests["tls \(file)"] && plain == digests["tls-sliced \(file)"],
        "\(digests)")
    }
  }

  /// Text holding what COPY's text format escapes (tab, newline, carriage return, backslash, the
  /// characters `\N`) and a NULL come out of PostgreSQL as the same bytes as out of SQLite.
  @Test func textThatCopyEscapesComesBackExactly() throws {
    let sandbox = try Sandbox(orders: 20)
    let server = try PostgresServer(directory: sandbox.root)
    #expect(try sandbox.run(["demo-data", "--orders", "20", "--source", server.url]).status == 0)
    let columns =
      "id, order_number, external_ref, status, payment, shipping, customer_id, name, email, currency, "
      + "with_tax, without_tax, tax, item_count, shipping_postcode, billing_postcode, shipping_country, "
      + "created_at, updated_at, store"
    func odd(_ name: String) -> String {
      "INSERT INTO orders (\(columns)) SELECT 'odd-1', 'ODD-1', NULL, status, payment, shipping, customer_id, "
        + "\(name), email, currency, with_tax, without_tax, tax, item_count, NULL, billing_postcode, "
        + "shipping_country, created_at, updated_at, store FROM orders LIMIT 1"
    }
    let sqlite = try Spawn.run(
      "/usr/bin/sqlite3",
      [
        sandbox.store,
        odd(#"'tab' || char(9) || 'new' || char(10) || 'cr' || char(13) || 'back\slash \N \t end'"#),
      ])
    #expect(sqlite.status == 0, "\(sqlite.stderr)")
    let postgres = try server.psql(odd(#"E'tab\tnew\ncr\rback\\slash \\N \\t end'"#))
    #expect(postgres.status == 0, "\(postgres.stderr)")
    var files: [String: Data] = [:]
    for (name, source) in [("sqlite", "sqlite:" + sandbox.store), ("postgres", server.url)] {
      let inbox = sandbox.root + "/inbox-\(name)"
      try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
      for (file, format) in [("odd.json", "csv"), ("odd-jsonl.json", "jsonl")] {
        try Sandbox.request(filter: "eq(order_number,ODD-1)", extra: #", "format": "\#(format)""#).write(
          toFile: inbox + "/" + file, atomically: true, encoding: .utf8)
      }
      let result = try sandbox.run([
        "process", "--inbox", inbox, "--spool", sandbox.root + "/spool-\(name)", "--outbox",
        sandbox.root + "/outbox-\(name)", "--source", source,
      ])
      #expect(result.status == 0, "\(result.stderr)")
      let folder = sandbox.root + "/outbox-\(name)/files"
      for id in try FileManager.default.contentsOfDirectory(atPath: folder) {
        for file in try FileManager.default.contentsOfDirectory(atPath: folder + "/" + id) {
          files["\(name) \(file.hasSuffix(".csv") ? "csv" : "jsonl")"] = try Data(
            contentsOf: URL(fileURLWithPath: "\(folder)/\(id)/\(file)"))
        }
      }
    }
    let csv = String(decoding: files["postgres csv"] ?? Data(), as: UTF8.self)
    #expect(csv.contains("\"tab\tnew\ncr\rback\\slash \\N \\t end\""), "\(csv)")
    #expect(csv.contains("odd-1,ODD-1,,"), "NULL is an empty cell: \(csv)")
    let same = files["sqlite csv"] != nil && files["sqlite csv"] == files["postgres csv"]
    #expect(same, "csv differs")
    let sameJSON = files["sqlite jsonl"] != nil && files["sqlite jsonl"] == files["postgres jsonl"]
    #expect(sameJSON, "jsonl differs")
  }

  @Test func aWrongPasswordOrAMissingTableFailsAtOnceAndNoSecretIsShown() throws {
    let sandbox = try Sandbox(orders: 1)
    let server = try PostgresServer(directory: sandbox.root)
    #expect(try sandbox.run(["demo-data", "--orders", "100", "--source", server.url]).status == 0)
    try server.psql("DROP TABLE products")
    sandbox.drop("gone.json", #"{"jobType": "product", "exportFilters": {}}"#)
    let wrong = server.url.replacingOccurrences(of: PostgresServer.password, with: "not-the-password")
    sandbox.drop("fine.json", Sandbox.request())
    let first = try sandbox.process(["--source", server.url])
    #expect(first.stderr.contains("relation \"products\" does not exist"), "the log has the server's words")
    let gone = try sandbox.job(file: "gone.json")
    #expect(gone["status"] as? String == "failed")
    let goneError = gone["error"] as? String ?? ""
    // The partner reads what happened; the server, the relation and the SQL are in the operator's log.
    #expect(
      goneError == "the database does not have what this job type reads (SQLSTATE 42P01)", "\(goneError)")
    #expect(try sandbox.job(file: "fine.json")["status"] as? String == "success")

    sandbox.drop("denied.json", Sandbox.request())
    let started = Date()
    let result = try sandbox.process(["--source", wrong])
    #expect(Date().timeIntervalSince(started) < 5, "a wrong password must not be retried")
    let denied = try sandbox.job(file: "denied.json")
    #expect(denied["status"] as? String == "failed")
    let deniedError = denied["error"] as? String ?? ""
    #expect(deniedError == "the database refused the service's connection", "\(deniedError)")
    #expect(result.stderr.contains("password authentication failed"), "the log says why")
    for text in [
      deniedError, goneError, result.stderr,
      String(decoding: try sandbox.outboxFile("index.json"), as: UTF8.self),
    ] {
      #expect(!text.contains("not-the-password") && !text.contains(PostgresServer.password))
    }
  }

  @Test func anUnreachableDatabaseIsRetriedWithBackoffThenFailsNamingIt() throws {
    let sandbox = try Sandbox(orders: 1)
    let port = SFTPTests.SSHServer.freePort()
    sandbox.drop("a.json", Sandbox.request())
    let result = try sandbox.process([
      "--source", "postgres://jobdrop:pw@127.0.0.1:\(port)/shop", "--retries", "1",
    ])
    #expect(result.stderr.contains("the data source failed; the job will be tried again"))
    let job = try sandbox.job(file: "a.json")
    #expect(job["status"] as? String == "failed")
    let error = job["error"] as? String ?? ""
    #expect(error == "the database is unavailable; the job was retried once", "\(error)")
    #expect(result.stderr.contains("127.0.0.1:\(port)/shop"), "the log names the server")
    #expect(!result.stderr.contains("jobdrop:pw"))
  }

  @Test func aServerStoppedMidExportIsRetriedAndTheJobFinishesWithEveryRow() throws {
    let sandbox = try Sandbox(orders: 1)
    let server = try PostgresServer(directory: sandbox.root)
    #expect(try sandbox.run(["demo-data", "--orders", "200000", "--source", server.url]).status == 0)
    let waiter = try sandbox.outboxWaiter()
    sandbox.drop("big.json", Sandbox.request())
    let daemon = try RunningDaemon(sandbox, ["--source", server.url])
    #expect(waiter.wait { sandbox.jobsByFile()["big.json"]?.first?["status"] as? String == "started" })
    server.stop()
    #expect(
      waiter.wait(timeout: 30) { daemon.log.contains("the data source failed; the job will be tried again") },
      "\(daemon.log)")
    try server.start()
    #expect(
      waiter.wait(timeout: 120) {
        sandbox.jobsByFile()["big.json"]?.first?["status"] as? String == "success"
      }, "\(daemon.log)")
    #expect(daemon.stop() == 0)
    let job = try #require(sandbox.jobsByFile()["big.json"]?.first)
    #expect((job["meta"] as? [String: Any])?["rows"] as? Int == 200_000)
    #expect(!daemon.log.contains(PostgresServer.password))
  }
}

extension PostgresTests {
  @Test func connectionSettingsComeFromPGVariablesAndThePasswordFile() throws {
    let sandbox = try Sandbox(orders: 1)
    let server = try PostgresServer(directory: sandbox.root)
    #expect(try sandbox.run(["demo-data", "--orders", "50", "--source", server.url]).status == 0)
    let passfile = sandbox.root + "/pgpass"
    try "127.0.0.1:\(server.port):postgres:jobdrop:\(PostgresServer.password)\n".write(
      toFile: passfile, atomically: true, encoding: .utf8)
    chmod(passfile, 0o600)
    sandbox.drop("a.json", Sandbox.request())
    let result = try sandbox.run(
      ["process", "--source", "postgres://127.0.0.1:\(server.port)/postgres"]
        + Array(sandbox.paths.dropLast(2)),
      environment: ["PGUSER": "jobdrop", "PGPASSFILE": passfile])
    #expect(result.status == 0, "\(result.stderr)")
    let job = try sandbox.job(file: "a.json")
    #expect(job["status"] as? String == "success", "\(job["error"] ?? "")")
    #expect((job["meta"] as? [String: Any])?["rows"] as? Int == 50)
  }
}
