import Foundation
import Testing

/// `--publish s3://…`, checked against moto's S3 server on 127.0.0.1 and read back with boto3
/// (`Tests/Publishing/bucket.py`): the bucket must equal the outbox byte for byte, with nginx's headers.
@Suite(.timeLimit(.minutes(10))) struct PublishTests {
  /// A moto S3 server with one bucket, stopped by its pid.
  final class S3Server {
    let port: Int
    let bucket: String
    let key: String
    let secret: String
    private let pid: pid_t
    private var stopped = false

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// With `auth`, moto checks every request's SigV4 signature against an IAM user's key.
    init(_ sandbox: Sandbox, port: Int? = nil, bucket: String = "jobdrop-site", auth: Bool = false) throws {
      self.port = port ?? SFTPTests.SSHServer.freePort()
      self.bucket = bucket
      let folder = sandbox.root + "/s3-\(self.port)-\(UUID().uuidString.prefix(8))"
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      let credentials = folder + "/credentials"
      pid = try Spawn.startListening(
        script: "Publishing/bucket.py",
        ["serve", "\(self.port)", bucket, credentials] + (auth ? ["--auth"] : []), in: folder, what: "moto")
      let words = try String(contentsOfFile: credentials, encoding: .utf8).split(separator: " ")
      key = String(words[0])
      secret = String(words[1]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { stop() }

    func stop() {
      guard !stopped else { return }
      stopped = true
      kill(pid, SIGKILL)  // the test process may ignore SIGTERM, and a child inherits that
      _ = Spawn.wait(pid)
    }

    var environment: [String: String] {
      ["AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"]
    }

    func options(prefix: String = "") -> [String] {
      ["--publish", "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)"), "--s3-endpoint", endpoint]
    }

    /// boto3's comparison of the bucket under `prefix` with the outbox (or the folder `outbox`).
    func compare(_ sandbox: Sandbox, prefix: String = "", outbox: String? = nil) throws -> (
      equal: Bool, report: [String: Any]
    ) {
      let result = try Spawn.run(
        "/usr/bin/env",
        ["python3", PublishTests.script, "compare", endpoint, bucket, prefix, outbox ?? sandbox.outbox],
        directory: sandbox.root, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
      let report =
        (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
      return (
        result.status == 0 && report["equal"] as? Bool == true,
        report.isEmpty ? ["stderr": result.stderr] : report
      )
    }

    func put(key: String, text: String) throws {
      let result = try Spawn.run(
        "/usr/bin/env", ["python3", PublishTests.script, "put", endpoint, bucket, key, text],
        directory: "/tmp",
        environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
      try #require(result.status == 0, "\(result.stderr)")
    }
  }

  static let script = NginxTests.repository.appendingPathComponent("Tests/Publishing/bucket.py").path

  /// What the daemon last wrote into `spool/publishing.json`.
  static func status(_ sandbox: Sandbox) -> [String: Any]? {
    guard let data = FileManager.default.contents(atPath: sandbox.spool + "/publishing.json") else {
      return nil
    }
    return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
  }

  /// Waits until the daemon says nothing is waiting and boto3 finds the bucket equal to the outbox
  /// (checked again at every rewrite of the status file); returns the last comparison.
  static func waitUntilEqual(
    _ sandbox: Sandbox, _ server: S3Server, prefix: String = "", timeout: Double = 90
  ) throws -> (equal: Bool, report: [String: Any]) {
    let waiter = try ChangeWaiter(folders: [sandbox.spool])
    var last: (equal: Bool, report: [String: Any]) = (false, [:])
    _ = try waiter.wait(timeout: timeout) {
      guard let status = status(sandbox), status["waiting"] as? Int == 0, status["resynced"] as? Bool == true
      else { return false }
      last = try server.compare(sandbox, prefix: prefix)
      return last.equal
    }
    return last
  }

  /// Waits until every request dropped as `names` has a finished job in the outbox.
  static func waitForJobs(_ sandbox: Sandbox, _ names: [String], _ waiter: ChangeWaiter) -> Bool {
    waiter.wait {
      let jobs = sandbox.jobsByFile()
      return names.allSatisfy { name in
        jobs[name]?.contains { ["success", "failed"].contains($0["status"] as? String ?? "") } == true
      }
    }
  }

  @Test func theBucketEqualsTheOutboxByteForByteWithNginxsHeadersAndSignedRequests() throws {
    let sandbox = try Sandbox(orders: 300)
    let server = try S3Server(sandbox, auth: true)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, server.options(), environment: server.environment)
    defer { daemon.stop() }
    sandbox.drop("paid.json", Sandbox.request(filter: "eq(payment,paid)"))
    sandbox.drop("lines.json", Sandbox.request(extra: #", "format": "jsonl.gz""#))
    sandbox.drop("unknown.json", #"{"data": {"type": "job", "job_type": "nope"}}"#)
    #expect(
      PublishTests.waitForJobs(sandbox, ["paid.json", "lines.json", "unknown.json"], waiter), "\(daemon.log)")
    let comparison = try PublishTests.waitUntilEqual(sandbox, server)
    #expect(comparison.equal, "\(comparison.report)\n\(daemon.log)")
    // Two export files, three job documents, two file links, three request documents, the index, the
    // page and the two error bodies.
    #expect(comparison.report["objects"] as? Int == 14, "\(comparison.report)")
    let status = try sandbox.run(["status", "--spool", sandbox.spool])
    #expect(
      status.stdout.contains("publishing to s3://jobdrop-site: everything published"), "\(status.stdout)")
    #expect(!daemon.log.contains(server.secret), "the secret is never logged")
  }

  @Test func aWrongSecretFailsPublishingNotTheJobsAndStatusSaysWhy() throws {
    let sandbox = try Sandbox(orders: 300)
    let server = try S3Server(sandbox, auth: true)
    let waiter = try sandbox.outboxWaiter()
    var environment = server.environment
    environment["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    let daemon = try RunningDaemon(sandbox, server.options(), environment: environment)
    defer { daemon.stop() }
    sandbox.drop("paid.json", Sandbox.request(filter: "eq(payment,paid)"))
    #expect(waiter.wait { sandbox.jobsByFile()["paid.json"]?.first?["status"] as? String == "success" })
    let spool = try ChangeWaiter(folders: [sandbox.spool])
    #expect(
      spool.wait {
        (PublishTests.status(sandbox)?["last_error"] as? String)?.contains("SignatureDoesNotMatch") == true
      })
    let status = try sandbox.run(["status", "--spool", sandbox.spool])
    #expect(status.stdout.contains("files waiting"), "\(status.stdout)")
    #expect(status.stdout.contains("last error: HTTP 403 SignatureDoesNotMatch"), "\(status.stdout)")
    #expect(daemon.log.contains("cannot list the bucket; will retry (jobs go on)"), "\(daemon.log)")
    #expect(!daemon.log.contains("not-the-secret"))
  }

  @Test func aServerDownThenUpEndsEqualAndJobsNeverWaitedForIt() throws {
    let sandbox = try Sandbox(orders: 300)
    let port = SFTPTests.SSHServer.freePort()
    let waiter = try sandbox.outboxWaiter()
    let environment = ["AWS_ACCESS_KEY_ID": "jobdrop-test", "AWS_SECRET_ACCESS_KEY": "jobdrop-test-secret"]
    let options = ["--publish", "s3://jobdrop-site/exports", "--s3-endpoint", "http://127.0.0.1:\(port)"]
    let daemon = try RunningDaemon(sandbox, options, environment: environment)
    defer { daemon.stop() }
    let names = (1...5).map { "down-\($0).json" }
    for name in names { sandbox.drop(name, Sandbox.request(filter: "eq(payment,paid)")) }
    #expect(PublishTests.waitForJobs(sandbox, names, waiter), "\(daemon.log)")
    #expect(sandbox.jobsByFile().values.allSatisfy { $0.first?["status"] as? String == "success" })
    let spool = try ChangeWaiter(folders: [sandbox.spool])
    #expect(spool.wait { PublishTests.status(sandbox)?["last_error"] is String }, "\(daemon.log)")
    let server = try S3Server(sandbox, port: port)
    let comparison = try PublishTests.waitUntilEqual(sandbox, server, prefix: "exports")
    #expect(comparison.equal, "\(comparison.report)\n\(daemon.log)")
    #expect(daemon.log.contains("publishing to the bucket again"), "\(daemon.log)")
  }

  @Test func killedMidPublishAndRestartedTheBucketEndsEqualAndStrayObjectsGo() throws {
    let sandbox = try Sandbox(orders: 300)
    let server = try S3Server(sandbox)
    try server.put(key: "exports/jobs/00000000-0000-4000-8000-000000000000.json", text: "stale")
    try server.put(key: "exports/index.json", text: "{\"data\": []}")
    let waiter = try sandbox.outboxWaiter()
    let first = try RunningDaemon(sandbox, server.options(prefix: "exports"), environment: server.environment)
    // Enough jobs that publishing them outlasts the status file's half-second cadence: the kill must
    // see some published and some waiting (30 could all be published between two writes of it).
    let names = (1...100).map { "burst-\($0).json" }
    for name in names { sandbox.drop(name, Sandbox.request(filter: "eq(payment,paid)")) }
    let spool = try ChangeWaiter(folders: [sandbox.spool])
    #expect(
      spool.wait {
        guard let status = PublishTests.status(sandbox) else { return false }
        return status["published"] as? Int ?? 0 > 0 && status["waiting"] as? Int ?? 0 > 0
      }, "\(first.log)")
    first.stop(SIGKILL)
    let second = try RunningDaemon(
      sandbox, server.options(prefix: "exports"), environment: server.environment)
    defer { second.stop() }
    #expect(PublishTests.waitForJobs(sandbox, names, waiter), "\(second.log)")
    let comparison = try PublishTests.waitUntilEqual(sandbox, server, prefix: "exports")
    #expect(comparison.equal, "\(comparison.report)\n\(second.log)")
    #expect(comparison.report["objects"] as? Int ?? 0 >= names.count * 4 + 4, "\(comparison.report)")
  }

  @Test func eachPartnersSiteIsPublishedUnderItsIdWithTheSameHeaders() throws {
    let sandbox = try Sandbox(orders: 300)
    let server = try S3Server(sandbox)
    let options = try PartnersTests.serve(sandbox) + server.options(prefix: "exports")
    try PartnersTests.drop(sandbox, "acme", "paid.json", PartnersTests.paidOrders)
    try PartnersTests.drop(sandbox, "globex", "paid.json", PartnersTests.paidOrders)
    try sandbox.process(options, environment: server.environment)
    let comparison = try server.compare(sandbox, prefix: "exports")
    #expect(comparison.equal, "\(comparison.report)")
    #expect(sandbox.list("outbox/acme/files").count == 1)
    #expect(sandbox.list("outbox/globex/files").count == 1)
    // Each partner's export file, job document, file link, request document, index, page and error
    // bodies; initech's empty site (index, page, error bodies).
    #expect(comparison.report["objects"] as? Int == 8 + 8 + 4, "\(comparison.report)")
  }

  @Test func processPublishesItsBatchAndExpiryDeletesFromTheBucket() throws {
    let sandbox = try Sandbox(orders: 300)
    let server = try S3Server(sandbox)
    sandbox.drop("paid.json", Sandbox.request(filter: "eq(payment,paid)"))
    try sandbox.process(server.options() + ["--ttl", "2s"], environment: server.environment)
    #expect(try server.compare(sandbox).equal)
    let job = try #require(try sandbox.index().first)
    let id = try #require(job["id"] as? String)
    #expect(sandbox.list("outbox/files/\(id)").count == 1)
    // The job lives two seconds from its creation: wait for that time, not for an event.
    Thread.sleep(forTimeInterval: 2.2)
    let result = try sandbox.process(server.options() + ["--ttl", "2s"], environment: server.environment)
    #expect(result.stderr.contains("job expired"), "\(result.stderr)")
    let comparison = try server.compare(sandbox)
    #expect(comparison.equal, "\(comparison.report)")
    // Left: the empty index, the page and the error bodies.
    #expect(comparison.report["objects"] as? Int == 4, "\(comparison.report)")
  }
}
