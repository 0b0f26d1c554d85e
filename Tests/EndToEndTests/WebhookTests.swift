import Foundation
import Testing

/// Webhooks, checked by a real HTTP receiver on 127.0.0.1 (`Tests/Webhooks/receiver.py`) that verifies
/// every signature with the Standard Webhooks reference library.
@Suite struct WebhookTests {
  /// A receiver process and what it logged.
  final class Receiver {
    let port: Int
    let log: String
    let secret: String
    private let pid: pid_t
    private var stopped = false

    init(
      _ sandbox: Sandbox, name: String = "receiver", port: Int? = nil, secret: String? = nil,
      _ options: [String] = []
    ) throws {
      self.port = port ?? SFTPTests.SSHServer.freePort()
      self.secret =
        secret ?? "whsec_" + Data((0..<24).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
      let folder = sandbox.root + "/\(name)"
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      log = folder + "/events.jsonl"
      let script = NginxTests.repository.appendingPathComponent("Tests/Webhooks/receiver.py").path
      let output = folder + "/stdout"
      let waiter = try ChangeWaiter(folders: [folder])
      pid = try Spawn.start(
        "/usr/bin/env", ["python3", script, "\(self.port)", self.secret, log] + options, directory: folder,
        stdoutPath: output, stderrPath: folder + "/stderr")
      try #require(
        waiter.wait(timeout: 30) {
          (try? String(contentsOfFile: output, encoding: .utf8))?.contains("listening") == true
        },
        "the receiver did not start: \((try? String(contentsOfFile: folder + "/stderr", encoding: .utf8)) ?? "")"
      )
    }

    deinit { stop() }

    func stop() {
      guard !stopped else { return }
      stopped = true
      kill(pid, SIGKILL)  // the test process may ignore SIGTERM, and a child inherits that
      _ = Spawn.wait(pid)
    }

    /// Every event received so far, in order.
    var events: [[String: Any]] {
      ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
      }
    }

    /// Writes the secret into a 0600 file for `--webhook-secret-file`.
    func secretFile(in sandbox: Sandbox) throws -> String {
      let path = sandbox.root + "/webhook-secret-\(port)"
      try (secret + "\n").write(toFile: path, atomically: true, encoding: .utf8)
      chmod(path, 0o600)
      return path
    }

    func options(_ sandbox: Sandbox) throws -> [String] {
      [
        "--webhook-url", "http://127.0.0.1:\(port)/hooks/jobdrop", "--webhook-secret-file",
        try secretFile(in: sandbox),
      ]
    }
  }

  static func webhookMeta(_ job: [String: Any]?) -> [String: Any]? {
    (job?["meta"] as? [String: Any])?["webhook"] as? [String: Any]
  }

  @Test func processSignsOneEventPerFinishedJobAndTheDocumentsSayItWasDelivered() throws {
    let sandbox = try Sandbox(orders: 300)
    let receiver = try Receiver(sandbox)
    sandbox.drop("paid.json", Sandbox.request(filter: "eq(payment,paid)"))
    sandbox.drop("unknown.json", #"{"data": {"type": "job", "job_type": "nope"}}"#)
    try sandbox.process(try receiver.options(sandbox))
    let events = receiver.events
    #expect(events.count == 2)
    #expect(events.allSatisfy { $0["verified"] as? Bool == true }, "\(events)")
    let jobs = try sandbox.index()
    for job in jobs {
      let id = try #require(job["id"] as? String)
      let event = try #require(events.first { $0["job"] as? String == id })
      #expect(event["id"] as? String == "msg_\(id)")
      #expect(event["type"] as? String == "job.\(job["status"] as? String ?? "")")
      #expect(WebhookTests.webhookMeta(job)?["delivered_at"] is String)
      #expect(WebhookTests.webhookMeta(job)?["attempts"] as? Int == 1)
    }
    #expect(Set(jobs.compactMap { $0["status"] as? String }) == ["success", "failed"])
    #expect(sandbox.list("spool/webhooks").isEmpty, "a delivered event leaves the spool")
  }

  @Test func aReceiverThatAnswers503IsTriedAgainWithTheSameIdUntilItTakesTheEvent() throws {
    let sandbox = try Sandbox(orders: 300)
    let receiver = try Receiver(sandbox, ["--fail-first", "2"])
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(
      sandbox, try receiver.options(sandbox), environment: ["JOBDROP_WEBHOOK_RETRY_SCALE": "0.01"])
    defer { daemon.stop() }
    sandbox.drop("paid.json", Sandbox.request(filter: "eq(payment,paid)"))
    #expect(
      waiter.wait {
        WebhookTests.webhookMeta(sandbox.jobsByFile()["paid.json"]?.first)?["delivered_at"] != nil
      },
      "\(daemon.log)")
    let events = receiver.events
    #expect(events.map { $0["answer"] as? Int } == [503, 503, 200])
    #expect(Set(events.compactMap { $0["id"] as? String }).count == 1, "one webhook-id for every attempt")
    #expect(events.allSatisfy { $0["verified"] as? Bool == true })
    #expect(WebhookTests.webhookMeta(sandbox.jobsByFile()["paid.json"]?.first)?["attempts"] as? Int == 3)
    #expect(daemon.log.contains("webhook attempt failed; will retry"))
  }

  @Test func eventsForADownReceiverSurviveAKillAndArriveOnceItIsUp() throws {
    let sandbox = try Sandbox(orders: 300)
    let port = SFTPTests.SSHServer.freePort()
    let secretHolder = try Receiver(sandbox, name: "first")  // only for a secret and its file
    secretHolder.stop()
    let options = [
      "--webhook-url", "http://127.0.0.1:\(port)/hook", "--webhook-secret-file",
      try secretHolder.secretFile(in: sandbox),
    ]
    let waiter = try sandbox.outboxWaiter()
    let environment = ["JOBDROP_WEBHOOK_RETRY_SCALE": "0.01"]
    let first = try RunningDaemon(sandbox, options, environment: environment)
    for name in ["a", "b", "c"] { sandbox.drop("\(name).json", Sandbox.request(filter: "eq(payment,paid)")) }
    #expect(
      waiter.wait {
        let jobs = sandbox.jobsByFile().values.compactMap(\.first)
        return jobs.count == 3
          && jobs.allSatisfy { (WebhookTests.webhookMeta($0)?["attempts"] as? Int ?? 0) >= 1 }
      }, "\(first.log)")
    let error = WebhookTests.webhookMeta(sandbox.jobsByFile()["a.json"]?.first)?["last_error"] as? String
    #expect(error?.contains("connect") == true, "\(String(describing: error))")
    first.stop(SIGKILL)
    #expect(sandbox.list("spool/webhooks").count == 3, "the events wait in the spool")

    // The receiver comes up (with the secret the daemon has) and the daemon comes back.
    let receiver = try Receiver(sandbox, name: "second", port: port, secret: secretHolder.secret)
    let second = try RunningDaemon(sandbox, options, environment: environment)
    defer { second.stop() }
    #expect(
      waiter.wait {
        sandbox.jobsByFile().values.compactMap(\.first).allSatisfy {
          WebhookTests.webhookMeta($0)?["delivered_at"] != nil
        }
      }, "\(second.log)")
    let ids = Set(receiver.events.compactMap { $0["job"] as? String })
    #expect(ids == Set(try sandbox.index().compactMap { $0["id"] as? String }), "every event arrived")
    #expect(receiver.events.allSatisfy { $0["verified"] as? Bool == true })
    #expect(sandbox.list("spool/webhooks").isEmpty)
  }
}
