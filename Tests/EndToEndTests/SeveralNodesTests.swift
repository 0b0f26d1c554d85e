import Foundation
import JobdropModel
import JobdropState
import JobdropSystem
import Testing

/// Several `jobdrop run` nodes on one PostgreSQL spool (`--spool postgres://…`), each with its own inbox,
/// and the shared table's leases and fencing tokens on a real server.
@Suite(.serialized, .timeLimit(.minutes(10))) struct SeveralNodesTests {
  /// A node: its own inbox, local spool and outbox under `root/name`.
  struct Node {
    let root: String
    var inbox: String { root + "/inbox" }
    var outbox: String { root + "/outbox" }

    init(_ sandbox: Sandbox, _ name: String) throws {
      root = sandbox.root + "/" + name
      try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
    }

    func start(
      _ sandbox: Sandbox, spool: String, bucket: PublishTests.S3Server? = nil, extra: [String] = []
    ) throws -> RunningDaemon {
      try RunningDaemon(
        sandbox,
        [
          "--inbox", inbox, "--outbox", outbox, "--local-spool", root + "/spool", "--spool", spool,
          "--lease", "3s", "--settle", "200ms", "--grace", "0",
        ] + (bucket?.options() ?? []) + extra, environment: bucket?.environment ?? [:])
    }

    /// Writes `text` beside the inbox and renames it in as `name` (below the inbox in `folder`), as an
    /// SFTP client's upload ends.
    func drop(_ name: String, _ text: String, folder: String = "") throws {
      let temp = root + "/." + name
      try Data(text.utf8).write(to: URL(fileURLWithPath: temp))
      #expect(rename(temp, inbox + folder + "/" + name) == 0)
    }

    /// The index this node rendered, when it did: every job's status by request file.
    func index() -> [String: String]? {
      guard let data = FileManager.default.contents(atPath: outbox + "/index.json"),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let jobs = object["data"] as? [[String: Any]]
      else { return nil }
      var statuses: [String: String] = [:]
      for job in jobs {
        let file = ((job["meta"] as? [String: Any])?["request"] as? [String: Any])?["file"] as? String ?? ""
        statuses[file] = job["status"] as? String
      }
      return statuses
    }
  }

  /// The rows `sql` selects from the shared table, read with psql: one array of fields per row.
  static func rows(_ server: PostgresServer, _ sql: String) throws -> [[String]] {
    let output = try Spawn.run(
      "/usr/bin/psql", ["-X", "-q", "-A", "-t", "-F", "\t", "-d", server.url, "-c", sql],
      environment: ProcessInfo.processInfo.environment)
    return output.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
  }

  /// The jobs of the shared table: state and request file, one line each.
  static func table(_ server: PostgresServer) throws -> [(state: String, file: String, id: String)] {
    try rows(server, "SELECT state, record::json->>'requestFile', id FROM jobdrop_jobs ORDER BY 2").map {
      ($0[0], $0[1], $0[2])
    }
  }

  /// A catalog of one job type, `silent`: a query that reads for minutes and yields no row, so only an
  /// interrupt of the query stops it and an admitted job stays in progress. The options that load it.
  static func silentCatalog(_ sandbox: Sandbox) throws -> [String] {
    let source =
      "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000) SELECT x AS n FROM c WHERE x < 0) AS quiet"
    let catalog =
      #"{"job_types": [{"name": "silent", "summary": "Nothing, slowly.", "source": "\#(source)", "columns": [{"name": "n", "type": "integer"}], "fields": []}]}"#
    try catalog.write(toFile: sandbox.root + "/catalog.json", atomically: true, encoding: .utf8)
    return ["--catalog", sandbox.root + "/catalog.json"]
  }

  @Test func threeNodesRunEveryRequestOnceAndALostNodesJobsRunElsewhere() throws {
    let sandbox = try Sandbox(orders: 60_000)
    let server = try PostgresServer(directory: sandbox.root)
    let bucket = try PublishTests.S3Server(sandbox)
    let nodes = try (1...3).map { try Node(sandbox, "node-\($0)") }
    var daemons = try nodes.map { try $0.start(sandbox, spool: server.url, bucket: bucket) }
    let waiter = try ChangeWaiter(folders: nodes.flatMap { [$0.outbox, $0.outbox + "/jobs"] })
    let expectedRows = try sandbox.query("SELECT count(*) FROM orders")[0]
    // The node that renders the index (it writes the first index.json) is the one that will be killed.
    #expect(waiter.wait { nodes.contains { $0.index() != nil } })
    let lost = try #require(nodes.firstIndex { $0.index() != nil })
    // A burst across the inboxes: 12 full order exports each, a few hundred milliseconds apiece.
    var files: [String] = []
    for (number, node) in nodes.enumerated() {
      for request in 1...12 {
        let name = "n\(number + 1)-\(request).json"
        files.append(name)
        try node.drop(name, #"{"jobType": "order_export", "exportFilters": {}}"#)
      }
    }
    // It is killed while it runs a job: that job's lease lapses and another node runs it, and another
    // node takes the index over (publishing every job's documents first).
    let killed = waiter.wait(timeout: 60) { daemons[lost].log.contains("job started") }
    try #require(killed, "node \(lost + 1) started no job: \(daemons[lost].log)")
    daemons[lost].stop(SIGKILL)
    let others = daemons.indices.filter { $0 != lost }.map { daemons[$0] }
    let reaped = waiter.wait(timeout: 60) {
      others.contains { $0.log.contains("a node's lease on the job lapsed") }
    }
    #expect(reaped, "no node took over node \(lost + 1)'s job")
    #expect(waiter.wait { others.contains { $0.log.contains("this node renders the index now") } })
    // The others finish what is in the table; its unclaimed requests wait in its inbox until it is back.
    daemons[lost] = try nodes[lost].start(sandbox, spool: server.url, bucket: bucket)
    let done = try waiter.wait(timeout: 120) {
      let table = try SeveralNodesTests.table(server)
      return table.count == files.count && table.allSatisfy { $0.state == "success" }
    }
    let table = try SeveralNodesTests.table(server)
    #expect(done, "not every job succeeded: \(table.map { "\($0.file) \($0.state)" })")
    // Every request is exactly one job.
    #expect(table.map(\.file).sorted() == files.sorted())
    // No job succeeded on two nodes (the fencing token lets only the lease holder record a result).
    var succeededOn: [String: Int] = [:]
    for daemon in daemons {
      for line in daemon.log.split(separator: "\n") where line.contains("job succeeded") {
        for job in table where line.contains(job.id) { succeededOn[job.id, default: 0] += 1 }
      }
    }
    #expect(succeededOn.values.allSatisfy { $0 == 1 }, "\(succeededOn)")
    // One node renders the index, and it lists every job as succeeded with every row.
    let indexed = waiter.wait(timeout: 30) {
      nodes.contains { node in
        node.index().map { $0.count == files.count && Set($0.values) == ["success"] } ?? false
      }
    }
    #expect(indexed, "no node's index lists every job: \(nodes.map { $0.index()?.count ?? -1 })")
    // Its documents are current (the others keep their own jobs' documents only, and the killed node's
    // index is as it left it).
    let renderer = nodes.first { node in
      node.index().map { $0.count == files.count && Set($0.values) == ["success"] } ?? false
    }
    for file in files {
      let job = renderer.flatMap { node in
        try? JSONSerialization.jsonObject(
          with: Data(contentsOf: URL(fileURLWithPath: node.outbox + "/requests/" + file))) as? [String: Any]
      }
      let meta = (job?["data"] as? [String: Any])?["meta"] as? [String: Any]
      #expect("\(meta?["rows"] ?? "-")" == expectedRows, "\(file)")
    }
    // The bucket holds what the node rendering the index published and every node's export files, byte
    // for byte with nginx's headers: the index lists every job.
    let merged = sandbox.root + "/merged"
    var comparison: (equal: Bool, report: [String: Any]) = (false, [:])
    let equal = try waiter.wait(timeout: 60) {
      // (The killed node's last index.json is still in its outbox, out of date: the renderer's is current.)
      guard
        let renderer = nodes.first(where: { node in
          node.index().map { $0.count == files.count && Set($0.values) == ["success"] } ?? false
        })
      else { return false }
      try? FileManager.default.removeItem(atPath: merged)
      try FileManager.default.copyItem(atPath: renderer.outbox, toPath: merged)
      for node in nodes where node.root != renderer.root {
        let folder = node.outbox + "/files"
        for id in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
          for name in try FileManager.default.contentsOfDirectory(atPath: folder + "/" + id)
          where !name.hasPrefix(".") {
            try FileManager.default.createDirectory(
              atPath: merged + "/files/" + id, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: merged + "/files/" + id + "/" + name)
            try FileManager.default.copyItem(
              atPath: folder + "/" + id + "/" + name, toPath: merged + "/files/" + id + "/" + name)
          }
        }
      }
      comparison = try bucket.compare(sandbox, outbox: merged)
      return comparison.equal
    }
    #expect(equal, "\(comparison.report)")
    for daemon in daemons { #expect(daemon.stop() == 0, "\(daemon.log.suffix(2000))") }
    server.stop()
  }

  @Test func aBurstOfSmallJobsOnThreeNodesWithTwoWorkersEachRunsEveryJobOnce() throws {
    // Many claims and moves at once on one table: no two nodes' transactions may deadlock or stop a runner.
    let sandbox = try Sandbox(orders: 200)
    let server = try PostgresServer(directory: sandbox.root)
    let nodes = try (1...3).map { try Node(sandbox, "node-\($0)") }
    let daemons = try nodes.map { try $0.start(sandbox, spool: server.url, extra: ["--workers", "2"]) }
    let waiter = try ChangeWaiter(folders: nodes.flatMap { [$0.outbox, $0.outbox + "/jobs"] })
    var files: [String] = []
    for request in 0..<150 {
      let node = nodes[request % nodes.count]
      let name = "small-\(request).json"
      files.append(name)
      try node.drop(name, Sandbox.request(filter: "eq(payment,paid)"))
    }
    let done = try waiter.wait(timeout: 120) {
      let table = try SeveralNodesTests.table(server)
      return table.count == files.count && table.allSatisfy { $0.state == "success" }
    }
    let table = try SeveralNodesTests.table(server)
    #expect(done, "\(table.filter { $0.state != "success" }.map { "\($0.file) \($0.state)" })")
    #expect(table.map(\.file).sorted() == files.sorted())
    for daemon in daemons {
      #expect(!daemon.log.contains("stopped"), "\(daemon.log.suffix(2000))")
      #expect(daemon.stop() == 0)
    }
    server.stop()
  }

  @Test func aCancelDroppedOnOneNodeStopsTheJobRunningOnAnother() throws {
    let sandbox = try Sandbox(orders: 100)
    let server = try PostgresServer(directory: sandbox.root)
    let catalog = try SeveralNodesTests.silentCatalog(sandbox)
    let nodes = try (1...2).map { try Node(sandbox, "node-\($0)") }
    let daemons = try nodes.map { try $0.start(sandbox, spool: server.url, extra: catalog) }
    let waiter = try ChangeWaiter(folders: nodes.flatMap { [$0.outbox, $0.outbox + "/jobs"] })
    try Data(#"{"data": {"type": "job", "job_type": "silent"}}"#.utf8).write(
      to: URL(fileURLWithPath: nodes[0].inbox + "/silent.json"))
    /// The job's row: id, state, node, error.
    func row() throws -> [String] {
      try SeveralNodesTests.rows(
        server, "SELECT id, state, node, record::json->>'error' FROM jobdrop_jobs"
      ).first ?? []
    }
    let running = try waiter.wait { try row().dropFirst().first == "started" }
    #expect(running, "\(daemons[0].log)")
    let started = try row()
    let id = started[0]
    // The cancel goes to the node that is not running the job.
    let runner = try #require(nodes.firstIndex { started[2].hasSuffix($0.root + "/spool") }, "\(started)")
    let other = nodes[1 - runner]
    // status names the node running it.
    let status = try sandbox.run(["status", "--spool", server.url])
    let line = status.stdout.split(separator: "\n").first { $0.hasPrefix(id) }
    #expect(status.stdout.hasPrefix("ID ") && status.stdout.contains("NODE"), "\(status.stdout)")
    #expect(line?.contains("started  \(started[2])") == true, "\(status.stdout)")
    try Data(#"{"cancel": "\#(id)"}"#.utf8).write(to: URL(fileURLWithPath: other.inbox + "/cancel.json"))
    let failed = try waiter.wait(timeout: 30) { try row().dropFirst().first == "failed" }
    #expect(failed, "\(daemons.map(\.log))")
    #expect(try row().last == "cancelled")
    let answer =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: other.outbox + "/requests/cancel.json")))
      as? [String: Any]
    #expect((answer?["data"] as? [String: Any])?["result"] as? String == "cancelled")
    for daemon in daemons { #expect(daemon.stop() == 0) }
    server.stop()
  }

  @Test func aPartnersLimitOfJobsInProgressHoldsAcrossNodes() throws {
    let sandbox = try Sandbox(orders: 100)
    let server = try PostgresServer(directory: sandbox.root)
    // Jobs that run until stopped, so every admitted job stays in progress.
    let catalog = try SeveralNodesTests.silentCatalog(sandbox)
    let partners = try PartnersTests.serve(
      sandbox,
      #"{"partners": [{"id": "initech", "token": "\#(PartnersTests.initechToken)", "max_pending": 2, "scope": {"silent": ""}}]}"#
    )
    let nodes = try (1...2).map { try Node(sandbox, "node-\($0)") }
    let daemons = try nodes.map {
      try $0.start(
        sandbox, spool: server.url, extra: catalog + partners)
    }
    let waiter = try ChangeWaiter(folders: nodes.map { $0.inbox + "/initech" })
    #expect(
      waiter.wait { nodes.allSatisfy { FileManager.default.fileExists(atPath: $0.inbox + "/initech") } })
    // Six requests at once, three on each node: two may be in progress, whoever claims them.
    var staged: [(String, String)] = []
    for (number, node) in nodes.enumerated() {
      for request in 1...3 {
        let temp = node.root + "/.r\(request).json"
        try Data(#"{"data": {"type": "job", "job_type": "silent"}}"#.utf8).write(
          to: URL(fileURLWithPath: temp))
        staged.append((temp, node.inbox + "/initech/n\(number + 1)-\(request).json"))
      }
    }
    for (temp, final) in staged { #expect(rename(temp, final) == 0) }
    let claimed = try waiter.wait(timeout: 30) { try SeveralNodesTests.table(server).count == 6 }
    #expect(claimed)
    let table = try SeveralNodesTests.table(server)
    #expect(table.filter { ["pending", "started"].contains($0.state) }.count == 2, "\(table)")
    #expect(table.filter { $0.state == "failed" }.count == 4, "\(table)")
    let errors = try SeveralNodesTests.rows(
      server, "SELECT DISTINCT record::json->>'error' FROM jobdrop_jobs WHERE state = 'failed'")
    #expect(errors == [["too many jobs in progress for partner 'initech' (limit 2)"]])
    for daemon in daemons { #expect(daemon.stop() == 0) }
    server.stop()
  }

  @Test func aDatabaseThatGoesAwayAndComesBackLosesNoRequestAndStopsNoNode() throws {
    let sandbox = try Sandbox(orders: 300)
    let server = try PostgresServer(directory: sandbox.root)
    let node = try Node(sandbox, "node-1")
    let daemon = try node.start(sandbox, spool: server.url)
    let waiter = try ChangeWaiter(folders: [node.outbox, node.outbox + "/jobs", node.inbox])
    try node.drop("before.json", Sandbox.request(filter: "eq(payment,paid)"))
    #expect(waiter.wait { (node.index() ?? [:])["before.json"] == "success" }, "\(daemon.log)")
    // The database stops (a restart, a failover): requests wait in the inbox, the node keeps running.
    server.stop()
    try node.drop("during.json", Sandbox.request(filter: "eq(payment,paid)"))
    let noticed = waiter.wait { daemon.log.contains("cannot claim") && daemon.log.contains("cannot follow") }
    #expect(noticed, "\(daemon.log)")
    #expect(kill(daemon.pid, 0) == 0, "the node stopped: \(daemon.log)")
    #expect(FileManager.default.fileExists(atPath: node.inbox + "/during.json"))
    try server.start()
    #expect(waiter.wait { (node.index() ?? [:])["during.json"] == "success" }, "\(daemon.log)")
    #expect(try SeveralNodesTests.table(server).map(\.file).sorted() == ["before.json", "during.json"])
    // Its claims that failed made no job and said so; only the committed one is logged as claimed.
    let claimed = daemon.log.split(separator: "\n").filter {
      $0.contains("request claimed") && $0.contains("request.file=during.json")
    }
    #expect(claimed.count == 1, "\(daemon.log)")
    // The follower tries again a second after it failed: the job may have run before then.
    #expect(waiter.wait { daemon.log.contains("the shared spool is reachable again") }, "\(daemon.log)")
    #expect(daemon.stop() == 0, "\(daemon.log)")
    server.stop()
  }

  @Test func anExpiredJobLeavesTheTableAndTheOutbox() throws {
    let sandbox = try Sandbox(orders: 300)
    let server = try PostgresServer(directory: sandbox.root)
    let node = try Node(sandbox, "node-1")
    var daemon = try node.start(sandbox, spool: server.url, extra: ["--ttl", "1s"])
    let waiter = try ChangeWaiter(folders: [node.outbox, node.outbox + "/jobs"])
    try node.drop("old.json", Sandbox.request(filter: "eq(payment,paid)"))
    #expect(waiter.wait { (node.index() ?? [:])["old.json"] == "success" }, "\(daemon.log)")
    let id = try #require(try SeveralNodesTests.table(server).first?.id)
    #expect(daemon.stop() == 0)
    // The time to live is what is waited for here: a second after its creation the job has expired.
    usleep(1_200_000)
    daemon = try node.start(sandbox, spool: server.url, extra: ["--ttl", "1s"])  // a sweep at start
    let expired = try waiter.wait {
      try SeveralNodesTests.table(server).isEmpty && node.index()?.isEmpty == true
    }
    #expect(expired, "\(daemon.log)")
    #expect(!FileManager.default.fileExists(atPath: node.outbox + "/jobs/\(id).json"))
    #expect(!FileManager.default.fileExists(atPath: node.outbox + "/files/\(id)"))
    #expect(daemon.stop() == 0)
    server.stop()
  }

  @Test func twoNodesSignOneEventPerFinishedJobAndTheIndexSaysItWasDelivered() throws {
    let sandbox = try Sandbox(orders: 300)
    let server = try PostgresServer(directory: sandbox.root)
    let receiver = try WebhookTests.Receiver(sandbox)
    let nodes = try (1...2).map { try Node(sandbox, "node-\($0)") }
    let daemons = try nodes.map {
      try $0.start(sandbox, spool: server.url, extra: try receiver.options(sandbox))
    }
    let waiter = try ChangeWaiter(folders: nodes.flatMap { [$0.outbox, $0.outbox + "/jobs"] })
    var files: [String] = []
    for (number, node) in nodes.enumerated() {
      for (request, text) in [
        ("paid", Sandbox.request(filter: "eq(payment,paid)")),
        ("unknown", #"{"data": {"type": "job", "job_type": "nope"}}"#),
      ] {
        let name = "\(request)-\(number + 1).json"
        files.append(name)
        try node.drop(name, text)
      }
    }
    let delivered = waiter.wait { receiver.events.count >= files.count }
    let table = try SeveralNodesTests.table(server)
    #expect(delivered, "\(receiver.events) \(table)")
    // One verified event per job, whichever node moved it, typed by its outcome.
    let events = receiver.events
    #expect(events.count == files.count)
    #expect(events.allSatisfy { $0["verified"] as? Bool == true }, "\(events)")
    #expect(Set(events.compactMap { $0["job"] as? String }) == Set(table.map(\.id)))
    for job in table {
      let event = events.first { $0["job"] as? String == job.id }
      #expect(event?["type"] as? String == "job.\(job.state)", "\(job.file)")
    }
    // The node rendering the index shows every job's delivery, whichever node delivered it.
    func deliveries(_ node: Node) -> Int {
      guard let data = FileManager.default.contents(atPath: node.outbox + "/index.json"),
        let jobs = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["data"]
          as? [[String: Any]]
      else { return 0 }
      return jobs.filter { WebhookTests.webhookMeta($0)?["delivered_at"] is String }.count
    }
    let shown = waiter.wait { nodes.contains { deliveries($0) == files.count } }
    #expect(shown, "\(nodes.map(deliveries))")
    for daemon in daemons { #expect(daemon.stop() == 0) }
    server.stop()
  }

  @Test func submitStatusAndProcessWorkWithASharedSpool() throws {
    let sandbox = try Sandbox(orders: 500)
    let server = try PostgresServer(directory: sandbox.root)
    let node = try Node(sandbox, "node-1")
    let daemon = try node.start(sandbox, spool: server.url)
    defer { daemon.stop() }
    let shared = ["--inbox", node.inbox, "--outbox", node.outbox, "--spool", server.url]
    let good = sandbox.root + "/good.json"
    try Sandbox.request(filter: "eq(payment,paid)").write(toFile: good, atomically: true, encoding: .utf8)
    // submit waits on the table: the id, then where the file is.
    let submitted = try sandbox.run(
      ["submit", "--wait", good, "--local-spool", node.root + "/submit"] + shared)
    #expect(submitted.status == 0, "\(submitted.stderr)")
    let lines = submitted.stdout.split(separator: "\n")
    let id = String(try #require(lines.first))
    #expect(lines.last?.hasPrefix("success: ") == true, "\(submitted.stdout)")
    // status reads the table: the job's line, and its document by id; it never shows the password.
    let status = try sandbox.run(["status"] + shared)
    #expect(status.status == 0, "\(status.stderr)")
    let line = try #require(status.stdout.split(separator: "\n").first { $0.hasPrefix(id) })
    #expect(line.contains("success") && line.contains("good.json"), "\(status.stdout)")
    let document = try sandbox.run(["status", id] + shared)
    let data = try JSONSerialization.jsonObject(with: Data(document.stdout.utf8)) as? [String: Any]
    #expect((data?["data"] as? [String: Any])?["status"] as? String == "success")
    let missing = try sandbox.run(["status", JobID.make()] + shared)
    #expect(missing.status == 1 && missing.stderr.contains("no job"))
    #expect(!(status.stdout + missing.stderr + daemon.log).contains(PostgresServer.password))
    // process works a file spool only, and says so.
    let process = try sandbox.run(["process"] + shared)
    #expect(process.status != 0)
    #expect(process.stderr.contains("`jobdrop process` works a file spool"), "\(process.stderr)")
    server.stop()
  }

  /// A schedule every second on two nodes, the node that received it killed: the other one goes on
  /// making its runs; each run is made once, and the successful windows follow each other exactly.
  @Test func aScheduleOnTwoNodesMakesEachRunOnceWhenOneIsKilled() throws {
    let sandbox = try Sandbox(orders: 500)
    let server = try PostgresServer(directory: sandbox.root)
    let nodes = try (1...2).map { try Node(sandbox, "node-\($0)") }
    let daemons = try nodes.map { try $0.start(sandbox, spool: server.url) }
    let waiter = try ChangeWaiter(folders: nodes.flatMap { [$0.outbox, $0.outbox + "/jobs"] })
    try nodes[0].drop(
      "feed.json",
      #"{"data": {"type": "job", "job_type": "order_export", "schedule": {"every": "1s"}, "window": {"field": "updated_at", "start": "2000-01-01", "lag": "0"}}}"#
    )
    func runs() throws -> [(id: String, state: String, from: String, to: String)] {
      try SeveralNodesTests.rows(
        server,
        """
        SELECT id, state, record::json->'window'->>'from', record::json->'window'->>'to' FROM jobdrop_jobs
        WHERE record::json->>'scheduleID' IS NOT NULL ORDER BY 3
        """
      ).map { ($0[0], $0[1], $0[2], $0[3]) }
    }
    func successes() -> Int { ((try? runs()) ?? []).filter { $0.state == "success" }.count }
    #expect(waiter.wait(timeout: 60) { successes() >= 4 }, "\(daemons[0].log)")
    daemons[0].stop(SIGKILL)
    let before = successes()
    #expect(waiter.wait(timeout: 60) { successes() >= before + 4 }, "\(daemons[1].log)")
    #expect(daemons[1].stop() == 0)
    let all = try runs()
    let succeeded = all.filter { $0.state == "success" }
    #expect(succeeded.first?.from == "2000-01-01T00:00:00.000Z")
    for (earlier, later) in zip(succeeded, succeeded.dropFirst()) {
      #expect(later.from == earlier.to, "a gap or an overlap: \(earlier.from)…\(earlier.to), \(later.from)…")
    }
    // Each run made by one node: the runs the two logs say they made are the table's runs, and no node
    // tried to make one the other had made.
    let logs = daemons.map(\.log)
    let made = logs.map {
      $0.components(separatedBy: "schedule made a run").count - 1
        + $0.components(separatedBy: "named but not made before a stop").count - 1
    }
    #expect(made.reduce(0, +) == all.count, "\(made) made, \(all.count) in the table")
    #expect(made[1] > 0, "the other node went on making the runs")
    #expect(!logs.contains { $0.contains("cannot make a schedule's run") }, "\(logs[1])")
    // `jobdrop status` on the shared table lists the schedule.
    let status = try sandbox.run(["status", "--spool", server.url])
    #expect(status.stdout.contains("SCHEDULE") && status.stdout.contains("feed.json"), "\(status.stdout)")
    server.stop()
  }
}
