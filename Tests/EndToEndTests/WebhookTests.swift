import Foundation
import Testing

/// Webhooks, checked by a real HTTP receiver on 127.0.0.1 (`Tests/Webhooks/receiver.py`) that verifies
/// every signature with the Standard Webhooks reference library.
@Suite(.timeLimit(.minutes(10))) struct WebhookTests {
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
      pid = try Spawn.startListening(
        script: "Webhooks/receiver.py", ["\(self.port)", self.secret, log] + options, in: folder,
        what: "the receiver")
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

  /// Starts `jobdrop run` posting to `receiver` with retries 100 times sooner, and drops `paid.json`.
  static func runAndDropPaidOrders(_ sandbox: Sandbox, _ receiver: Receiver) throws -> (
    ChangeWaiter, RunningDaemon
  ) {
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(
      sandbox, try receiver.options(sandbox), environment: ["JOBDROP_WEBHOOK_RETRY_SCALE": "0.01"])
    sandbox.drop("paid.json", Sandbox.request(filter: "eq(payment,paid)"))
    return (waiter, daemon)
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
    let (waiter, daemon) = try WebhookTests.runAndDropPaidOrders(sandbox, receiver)
    defer { daemon.stop() }
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

  @Test func aSlowReceiverHoldsUpNeitherTheJobsNorAnotherPartnersEvents() throws {
    let sandbox = try Sandbox(orders: 300)
    let slow = try Receiver(sandbox, name: "acme-receiver", ["--delay", "5"])
    let fast = try Receiver(sandbox, name: "globex-receiver")
    let options = try PartnersTests.serve(
      sandbox,
      """
      {"partners": [
        {"id": "acme", "token": "\(PartnersTests.acmeToken)", "scope": {"*": "in(store,store-1,store-2)"},
         "webhook": {"url": "http://127.0.0.1:\(slow.port)/h", "secret": "\(slow.secret)"}},
        {"id": "globex", "token": "\(PartnersTests.globexToken)", "scope": {"*": "eq(store,store-3)"},
         "webhook": {"url": "http://127.0.0.1:\(fast.port)/h", "secret": "\(fast.secret)"}}
      ]}
      """)
    let waiter = try ChangeWaiter(folders: [
      sandbox.root + "/globex-receiver", sandbox.root + "/acme-receiver", sandbox.outbox + "/acme",
    ])
    let daemon = try RunningDaemon(sandbox, options)
    defer { daemon.stop() }
    try PartnersTests.drop(sandbox, "acme", "a1.json", PartnersTests.paidOrders)
    try PartnersTests.drop(sandbox, "acme", "a2.json", PartnersTests.paidOrders)
    try PartnersTests.drop(sandbox, "globex", "g1.json", PartnersTests.paidOrders)
    #expect(waiter.wait { fast.events.count == 1 }, "\(daemon.log)")
    // globex's event came while acme's receiver still sat on acme's first one.
    #expect(slow.events.isEmpty, "acme's slow receiver held up globex's event")
    // acme's jobs finish while its receiver still sits on the first event: delivery never delays a job.
    #expect(
      waiter.wait {
        let acme = (try? PartnersTests.jobs(sandbox.outbox, "acme")) ?? [:]
        return acme.count == 2 && acme.values.allSatisfy { $0["status"] as? String == "success" }
      })
    #expect(slow.events.isEmpty, "acme's jobs waited for acme's receiver")
    #expect(fast.events.first?["partner"] as? String == "globex")
    #expect(waiter.wait { slow.events.count == 2 }, "\(daemon.log)")
    #expect((slow.events + fast.events).allSatisfy { $0["verified"] as? Bool == true })
  }

  @Test(arguments: [
    ("redirect", "HTTP 302 (redirects are not followed)"),
    ("huge", "HTTP 200 with a response body over 64 KiB"),
  ])
  func aRedirectOrAHugeAnswerIsAFailedAttempt(answer: String, error: String) throws {
    let sandbox = try Sandbox(orders: 300)
    let receiver = try Receiver(sandbox, ["--answer", answer])
    let (waiter, daemon) = try WebhookTests.runAndDropPaidOrders(sandbox, receiver)
    defer { daemon.stop() }
    #expect(
      waiter.wait {
        (WebhookTests.webhookMeta(sandbox.jobsByFile()["paid.json"]?.first)?["attempts"] as? Int ?? 0) >= 2
      }, "\(daemon.log)")
    let meta = WebhookTests.webhookMeta(sandbox.jobsByFile()["paid.json"]?.first)
    #expect(meta?["last_error"] as? String == error)
    #expect(meta?["delivered_at"] == nil)
    #expect(receiver.events.allSatisfy { $0["verified"] as? Bool == true })
  }

  @Test func aBadWebhookConfigurationStopsJobdropAtStartAndSaysWhy() throws {
    let sandbox = try Sandbox(orders: 100)
    let secret = sandbox.root + "/secret"
    try "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n".write(toFile: secret, atomically: true, encoding: .utf8)
    chmod(secret, 0o600)
    let loose = sandbox.root + "/loose"
    try "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".write(toFile: loose, atomically: true, encoding: .utf8)
    chmod(loose, 0o644)
    let notASecret = sandbox.root + "/plain"
    try "hunter2".write(toFile: notASecret, atomically: true, encoding: .utf8)
    chmod(notASecret, 0o600)
    let cases: [([String], String)] = [
      (
        ["--webhook-url", "ftp://x.example/h", "--webhook-secret-file", secret],
        "--webhook-url: expected an http:// or https:// URL"
      ),
      (["--webhook-url", "https://x.example/h"], "--webhook-url: needs --webhook-secret-file"),
      (
        ["--webhook-url", "https://x.example/h", "--webhook-secret-file", loose],
        "is open to group or others (mode 0644)"
      ),
      (["--webhook-url", "https://x.example/h", "--webhook-secret-file", notASecret], "expected whsec_"),
    ]
    for (options, message) in cases {
      let result = try sandbox.run(["run"] + sandbox.paths + options)
      #expect(result.status != 0)
      #expect(result.stderr.contains(message), "\(result.stderr)")
      #expect(!result.stderr.contains("hunter2"))
    }
    let partners = try PartnersTests.serve(
      sandbox,
      """
      {"partners": [{"id": "acme", "token": "\(PartnersTests.acmeToken)", "scope": {"*": ""},
        "webhook": {"url": "https://x.example/h", "secret": "hunter2"}}]}
      """)
    let result = try sandbox.run(["run"] + sandbox.paths + partners)
    #expect(result.status != 0)
    #expect(result.stderr.contains("partner 'acme': webhook.secret: expected whsec_"), "\(result.stderr)")
    #expect(!result.stderr.contains("hunter2"))
  }
}
