import Foundation
import JobdropModel
import Testing

/// `--partners`: one jobdrop serving several partners, each in its own folders, within its own scope.
@Suite(.serialized, .timeLimit(.minutes(10))) struct PartnersTests {
  static let acmeToken = "acme-secret-token-0123456789abcdefABCDEF"
  static let globexToken = "globex-secret-token-0123456789abcdefABCD"
  static let initechToken = "initech-secret-token-0123456789abcdefABC"

  /// A partners file with acme (stores 1 and 2, every job type), globex (orders of store 3 in USD only)
  /// and initech (store 4, two job types, at most 2 jobs in progress).
  static let partners = """
    {"partners": [
      {"id": "acme", "token": "\(acmeToken)", "scope": {"*": "in(store,store-1,store-2)"}},
      {"id": "globex", "token": "\(globexToken)", "scope": {"order_export": "eq(store,store-3):eq(currency,USD)"}},
      {"id": "initech", "token": "\(initechToken)", "max_pending": 2,
       "scope": {"order_export": "eq(store,store-4)", "order_return": "eq(store,store-4)"}}
    ]}
    """

  /// Writes the partners file (mode 0600) and returns the options that serve it.
  static func serve(_ sandbox: Sandbox, _ text: String = partners, mode: Int = 0o600) throws -> [String] {
    let path = sandbox.root + "/partners.json"
    try write(text, to: path, mode: mode)
    return ["--partners", path]
  }

  /// Replaces `path` by a rename, as an editor does.
  static func write(_ text: String, to path: String, mode: Int = 0o600) throws {
    let temporary = path + ".new"
    _ = FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8))
    chmod(temporary, mode_t(mode))
    precondition(rename(temporary, path) == 0)
  }

  static func drop(_ sandbox: Sandbox, _ partner: String, _ name: String, _ text: String) throws {
    let folder = sandbox.inbox + "/" + partner
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(text.utf8))
  }

  /// The jobs of `partner`'s `index.json`, by the file they were dropped as.
  static func jobs(_ outbox: String, _ partner: String) throws -> [String: [String: Any]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: "\(outbox)/\(partner)/index.json"))
    let jobs = (try JSONSerialization.jsonObject(with: data) as! [String: Any])["data"] as! [[String: Any]]
    var byFile: [String: [String: Any]] = [:]
    for job in jobs {
      let file = ((job["meta"] as! [String: Any])["request"] as! [String: Any])["file"] as! String
      byFile[file] = job
    }
    return byFile
  }

  static let paidOrders = Sandbox.request(filter: "eq(payment,paid)")
  static let codReturns =
    #"{"jobType": "order_return", "exportFilters": {"paymentMethod": "COD", "status": "", "sku": ""}}"#

  /// The requests each partner drops, and the SQL count each job's rows must equal (scope ∧ filter);
  /// `nil`: the job fails.
  static let cases: [(partner: String, file: String, request: String, count: String?)] = [
    (
      "acme", "paid.json", paidOrders,
      "SELECT count(*) FROM orders WHERE store IN ('store-1','store-2') AND payment = 'paid'"
    ),
    (
      "acme", "returns.json", codReturns,
      "SELECT count(*) FROM order_return_items WHERE store IN ('store-1','store-2') AND payment_method = 'COD'"
    ),
    (
      "acme", "narrow.json", Sandbox.request(filter: "eq(store,store-2):eq(currency,EUR)"),
      "SELECT count(*) FROM orders WHERE store = 'store-2' AND currency = 'EUR'"
    ),
    (
      "globex", "paid.json", paidOrders,
      "SELECT count(*) FROM orders WHERE store = 'store-3' AND currency = 'USD' AND payment = 'paid'"
    ),
    (
      "initech", "paid.json", paidOrders,
      "SELECT count(*) FROM orders WHERE store = 'store-4' AND payment = 'paid'"
    ),
    (
      "initech", "returns.json", codReturns,
      "SELECT count(*) FROM order_return_items WHERE store = 'store-4' AND payment_method = 'COD'"
    ),
  ]

  @Test func eachJobHasExactlyTheRowsOfScopeAndFilterOnSQLiteAndPostgreSQL() throws {
    let sandbox = try Sandbox(orders: 3000)
    let options = try PartnersTests.serve(sandbox)
    let server = try PostgresServer(directory: sandbox.root)
    let created = try sandbox.run(["demo-data", "--orders", "3000", "--source", server.url])
    #expect(created.status == 0, "\(created.stderr)")
    var digests: [String: [String: String]] = [:]
    for (name, source) in [("sqlite", "sqlite:" + sandbox.store), ("postgres", server.url)] {
      let inbox = sandbox.root + "/inbox-\(name)"
      for (partner, file, request, _) in PartnersTests.cases {
        try FileManager.default.createDirectory(
          atPath: "\(inbox)/\(partner)", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(
          atPath: "\(inbox)/\(partner)/\(file)", contents: Data(request.utf8))
      }
      // Outside its scope: globex may not run order_return; acme's store-3 orders are not acme's.
      _ = FileManager.default.createFile(
        atPath: "\(inbox)/globex/returns.json", contents: Data(PartnersTests.codReturns.utf8))
      _ = FileManager.default.createFile(
        atPath: "\(inbox)/acme/other-store.json",
        contents: Data(Sandbox.request(filter: "eq(store,store-3)").utf8))
      // Directly in the inbox: not a request of anybody's; it stays.
      _ = FileManager.default.createFile(
        atPath: "\(inbox)/stray.json", contents: Data(PartnersTests.paidOrders.utf8))
      let outbox = sandbox.root + "/outbox-\(name)"
      let result = try sandbox.run(
        [
          "process", "--inbox", inbox, "--spool", sandbox.root + "/spool-\(name)", "--outbox", outbox,
          "--source", source,
        ]
          + options)
      #expect(result.status == 0, "\(result.stderr)")
      #expect(FileManager.default.fileExists(atPath: "\(inbox)/stray.json"))
      #expect(!FileManager.default.fileExists(atPath: "\(outbox)/index.json"))
      for (partner, file, _, count) in PartnersTests.cases {
        let job = try #require(try PartnersTests.jobs(outbox, partner)[file], "\(name) \(partner)/\(file)")
        #expect(job["status"] as? String == "success", "\(name) \(partner)/\(file): \(job["error"] ?? "")")
        let meta = job["meta"] as! [String: Any]
        #expect(meta["partner"] as? String == partner)
        let expected = try sandbox.query(count!)[0]
        #expect(Int(expected)! > 0)
        #expect("\(meta["rows"] ?? "-")" == expected, "\(name) \(partner)/\(file)")
        let href = (job["link"] as! [String: Any])["href"] as! String
        let lines = try String(contentsOfFile: "\(outbox)/\(partner)/\(href)", encoding: .utf8)
          .components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == Int(expected)! + 1)
        digests[name, default: [:]]["\(partner)/\(file)"] = "\(meta["rows"] ?? "") \(meta["sha256"] ?? "")"
      }
      let globexReturns = try #require(try PartnersTests.jobs(outbox, "globex")["returns.json"])
      #expect(globexReturns["status"] as? String == "failed")
      #expect(
        globexReturns["error"] as? String == "job type 'order_return' is not enabled for partner 'globex'")
      let otherStore = try #require(try PartnersTests.jobs(outbox, "acme")["other-store.json"])
      #expect(otherStore["error"] as? String == "No results matched the supplied filter")
    }
    #expect(digests["sqlite"] == digests["postgres"])
  }

  @Test func noPartnerSeesAnythingOfAnothersAndNoTokenIsWrittenAnywhere() throws {
    let sandbox = try Sandbox(orders: 1500)
    let options = try PartnersTests.serve(sandbox)
    try PartnersTests.drop(sandbox, "acme", "acme-secret-name.json", PartnersTests.paidOrders)
    try PartnersTests.drop(sandbox, "acme", "shared-name.json", Sandbox.request(filter: "eq(currency,EUR)"))
    try PartnersTests.drop(sandbox, "globex", "globex-secret-name.json", PartnersTests.paidOrders)
    try PartnersTests.drop(
      sandbox, "globex", "shared-name.json", Sandbox.request(filter: "eq(status,complete)"))
    try PartnersTests.drop(sandbox, "globex", "broken.json", "{\"data\": ")
    let result = try sandbox.process(options + ["--log-level", "debug"])
    let daemon = try RunningDaemon(sandbox, options)
    try PartnersTests.drop(sandbox, "initech", "live.json", PartnersTests.paidOrders)
    let waiter = try ChangeWaiter(folders: [sandbox.outbox + "/initech"])
    #expect(
      waiter.wait {
        ((try? PartnersTests.jobs(sandbox.outbox, "initech")["live.json"])?["status"] as? String) == "success"
      })
    #expect(daemon.stop() == 0)

    /// Every path under `folder` and every file's bytes.
    func tree(_ folder: String) -> (paths: [String], bytes: [Data]) {
      let enumerator = FileManager.default.enumerator(atPath: folder)!
      var paths: [String] = []
      var bytes: [Data] = []
      while let path = enumerator.nextObject() as? String {
        paths.append(path)
        if let data = FileManager.default.contents(atPath: folder + "/" + path) { bytes.append(data) }
      }
      return (paths, bytes)
    }
    let sites = ["acme", "globex", "initech"].map { (partner: $0, tree: tree(sandbox.outbox + "/" + $0)) }
    var idsOf: [String: [String]] = [:]
    var filesOf: [String: [Data]] = [:]
    for site in sites {
      let jobs = try PartnersTests.jobs(sandbox.outbox, site.partner)
      idsOf[site.partner] = jobs.values.map { $0["id"] as! String }
      filesOf[site.partner] = try jobs.values.compactMap { job -> Data? in
        let href = (job["link"] as! [String: Any])["href"] as! String
        return href.isEmpty
          ? nil : try Data(contentsOf: URL(fileURLWithPath: "\(sandbox.outbox)/\(site.partner)/\(href)"))
      }
    }
    #expect(idsOf["acme"]?.count == 2 && idsOf["globex"]?.count == 3 && idsOf["initech"]?.count == 1)
    for site in sites {
      let text = site.tree.bytes.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
      for other in sites where other.partner != site.partner {
        for id in idsOf[other.partner]! {
          #expect(!text.contains(id), "\(other.partner)'s job \(id) is visible in \(site.partner)'s site")
          #expect(!site.tree.paths.contains { $0.contains(id) })
        }
        for file in filesOf[other.partner]! { #expect(!site.tree.bytes.contains(file)) }
      }
      #expect(!site.tree.paths.contains { $0.contains("secret-name") && !$0.contains(site.partner) })
    }
    #expect(sandbox.list("outbox/acme/requests").contains("acme-secret-name.json"))
    #expect(!sandbox.list("outbox/acme/requests").contains("globex-secret-name.json"))
    // No token anywhere: not in the outbox, the spool, or the logs.
    let everything =
      tree(sandbox.outbox).bytes + tree(sandbox.spool).bytes + [
        Data(result.stderr.utf8), Data(daemon.log.utf8),
      ]
    for token in [PartnersTests.acmeToken, PartnersTests.globexToken, PartnersTests.initechToken] {
      #expect(!everything.contains { String(decoding: $0, as: UTF8.self).contains(token) })
    }
    // The operator's view: a partner column, and one partner's jobs alone.
    let status = try sandbox.run(["status", "--partner", "globex"] + sandbox.paths)
    #expect(status.status == 0)
    let lines = status.stdout.split(separator: "\n")
    #expect(lines.first?.contains("PARTNER") == true)
    #expect(lines.count == 4 && lines.dropFirst().allSatisfy { $0.contains(" globex ") })
  }

  @Test func aPartnersFileOthersCanReadOrAScopeThatDoesNotCompileStopsTheStart() throws {
    let sandbox = try Sandbox(orders: 100)
    var result = try sandbox.run(["process"] + sandbox.paths + PartnersTests.serve(sandbox, mode: 0o644))
    #expect(result.status != 0)
    #expect(result.stderr.contains("\(sandbox.root)/partners.json"))
    #expect(result.stderr.contains("mode 0644") && result.stderr.contains("chmod 600"))
    let badScope = PartnersTests.partners.replacingOccurrences(
      of: "eq(store,store-3)", with: "eq(colour,red)")
    result = try sandbox.run(["process"] + sandbox.paths + PartnersTests.serve(sandbox, badScope))
    #expect(result.status != 0)
    #expect(
      result.stderr.contains(
        "partners.json: partner 'globex': scope 'order_export': filter: unknown field 'colour' at 4"))
    for token in [PartnersTests.acmeToken, PartnersTests.globexToken] {
      #expect(!result.stderr.contains(token))
    }
    #expect(sandbox.list("outbox").isEmpty, "nothing was published")
  }

  @Test func aPartnerPastItsLimitGetsAFailedJobSayingSo() throws {
    let sandbox = try Sandbox(orders: 500)
    let options = try PartnersTests.serve(sandbox)
    for index in 1...5 {
      try PartnersTests.drop(sandbox, "initech", "r\(index).json", PartnersTests.paidOrders)
    }
    try sandbox.process(options)
    let jobs = try PartnersTests.jobs(sandbox.outbox, "initech")
    #expect(jobs.count == 5)
    let failed = jobs.values.filter { $0["status"] as? String == "failed" }
    #expect(jobs.values.filter { $0["status"] as? String == "success" }.count == 2)
    #expect(failed.count == 3)
    for job in failed {
      #expect(job["error"] as? String == "too many jobs in progress for partner 'initech' (limit 2)")
    }
  }

  @Test func partnersTakeTurnsWhileOneHasABacklog() throws {
    let sandbox = try Sandbox(orders: 200)
    let options = try PartnersTests.serve(sandbox)
    for index in 1...30 {
      try PartnersTests.drop(sandbox, "acme", "a\(index).json", PartnersTests.paidOrders)
    }
    try PartnersTests.drop(sandbox, "globex", "g.json", PartnersTests.paidOrders)
    let result = try sandbox.process(options + ["--log-format", "json"])
    // The order jobs started in, from the log.
    var started: [String] = []
    for line in result.stderr.split(separator: "\n") {
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        object["message"] as? String == "job started", let id = object["job.id"] as? String
      else { continue }
      started.append(id)
    }
    #expect(started.count == 31)
    let globex = try #require(try PartnersTests.jobs(sandbox.outbox, "globex")["g.json"]?["id"] as? String)
    let acme = try PartnersTests.jobs(sandbox.outbox, "acme")
    let acmeOrder = acme.values.sorted {
      (($0["timestamps"] as! [String: Any])["created_at"] as! String, $0["id"] as! String)
        < (($1["timestamps"] as! [String: Any])["created_at"] as! String, $1["id"] as! String)
    }.map { $0["id"] as! String }
    // globex's one job, claimed after acme's thirty, waits for one job of acme's, not thirty.
    #expect(
      started.firstIndex(of: globex).map { $0 <= 1 } == true,
      "globex started at \(started.firstIndex(of: globex) ?? -1)")
    #expect(started.filter { $0 != globex } == acmeOrder, "acme's jobs run oldest first")
  }

  @Test func runFollowsThePartnersFileWithoutARestart() throws {
    let sandbox = try Sandbox(orders: 300)
    let path = sandbox.root + "/partners.json"
    let acmeOnly =
      #"{"partners": [{"id": "acme", "token": "\#(PartnersTests.acmeToken)", "scope": {"*": "eq(store,store-1)"}}]}"#
    let options = try PartnersTests.serve(sandbox, acmeOnly)
    let daemon = try RunningDaemon(sandbox, options)
    let waiter = try ChangeWaiter(folders: [sandbox.inbox, sandbox.outbox, sandbox.root])
    #expect(waiter.wait { FileManager.default.fileExists(atPath: sandbox.outbox + "/acme/index.json") })
    #expect(!FileManager.default.fileExists(atPath: sandbox.inbox + "/globex"))
    func status(_ partner: String, _ file: String) -> String? {
      (try? PartnersTests.jobs(sandbox.outbox, partner)[file])?["status"] as? String
    }
    try PartnersTests.drop(sandbox, "acme", "one.json", PartnersTests.paidOrders)
    #expect(waiter.wait { status("acme", "one.json") == "success" })

    // A new partner: its folders appear and its requests run.
    try PartnersTests.write(PartnersTests.partners, to: path)
    #expect(waiter.wait { FileManager.default.fileExists(atPath: sandbox.outbox + "/globex/index.json") })
    #expect(FileManager.default.fileExists(atPath: sandbox.inbox + "/globex"))
    try PartnersTests.drop(sandbox, "globex", "g.json", PartnersTests.paidOrders)
    #expect(waiter.wait { status("globex", "g.json") == "success" })

    // An invalid file is logged; the one in force stays.
    try PartnersTests.write(#"{"partners": [{"id": "acme"}]}"#, to: path)
    #expect(waiter.wait { daemon.log.contains("the new partners file is refused") })
    #expect(daemon.log.contains("partner 'acme': token: missing"))
    try PartnersTests.drop(sandbox, "globex", "g2.json", PartnersTests.paidOrders)
    #expect(waiter.wait { status("globex", "g2.json") == "success" })

    // A removed partner: its inbox is no longer read; its published jobs stay.
    try PartnersTests.write(
      #"{"partners": [{"id": "globex", "token": "\#(PartnersTests.globexToken)", "scope": {"*": "eq(store,store-3)"}}]}"#,
      to: path)
    #expect(waiter.wait { daemon.log.contains("partners.removed=acme") }, "\(daemon.log)")
    try PartnersTests.drop(sandbox, "acme", "late.json", PartnersTests.paidOrders)
    try PartnersTests.drop(sandbox, "globex", "g3.json", PartnersTests.paidOrders)
    #expect(waiter.wait { status("globex", "g3.json") == "success" })
    #expect(daemon.stop() == 0)
    #expect(daemon.log.contains("no --base-url (JOBDROP_BASE_URL): links.self and link.href are relative"))
    #expect(FileManager.default.fileExists(atPath: sandbox.inbox + "/acme/late.json"), "not read, not lost")
    #expect(status("acme", "late.json") == nil)
    #expect(status("acme", "one.json") == "success", "acme's published jobs stay until they expire")
  }
}
