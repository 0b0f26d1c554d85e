import Foundation
import Logging
import Testing

@testable import JobdropDaemon
@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

/// The deliverer against a real HTTP receiver on 127.0.0.1, on a manual clock: what a 2xx, a failure and
/// 24 hours of failures do to the event in the spool and to the job's `meta.webhook`.
@Suite(.timeLimit(.minutes(10))) struct WebhookDelivererTests {
  struct Setup {
    let store: JobStoreTests.Setup
    let queue: WebhookQueue
    let deliverer: WebhookDeliverer
    let server: ScriptedHTTPServer
    let job: Job

    init(replies: [String?]) throws {
      store = try JobStoreTests.Setup(clock: .manual(at: .now()))
      server = ScriptedHTTPServer(replies: replies)
      queue = try WebhookQueue(spool: store.spool)
      let target = WebhookTarget(
        url: "http://127.0.0.1:\(server.port)/hook",
        secret: WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!)
      deliverer = WebhookDeliverer(
        store: store.store, queue: queue, targets: { _ in target }, retryScale: 1,
        logger: Logger(label: "test"))
      job = try store.claim("a.json", error: "bad")
      let delivery = WebhookDelivery(job: job, document: Array("{}".utf8), now: store.clock.now())
      try queue.save(delivery)
      deliverer.add(delivery)
    }

    var webhook: WebhookStatus? { store.store.job(id: job.id)?.record.webhook }
    var queued: [WebhookDelivery] { queue.load().deliveries }
  }

  @Test func aTwoHundredDeliversTheEventOnceAndSaysWhen() throws {
    let setup = try Setup(replies: [ScriptedHTTPServer.status(204)])
    let sentAt = setup.store.clock.now()
    setup.deliverer.deliverDueOnce()
    let request = try #require(setup.server.requests.first)
    #expect(request.hasPrefix("POST /hook HTTP/1.1\r\n"))
    #expect(request.contains("webhook-id: msg_\(setup.job.id)\r\n"))
    #expect(request.contains("webhook-timestamp: \(sentAt.seconds)\r\n"))
    #expect(request.hasSuffix(#"{"type":"job.failed","timestamp":"\#(sentAt.rfc3339)","data":{}}"#))
    #expect(setup.webhook == WebhookStatus(deliveredAt: sentAt, attempts: 1))
    #expect(setup.queued.isEmpty, "a delivered event leaves the spool")
    setup.deliverer.deliverDueOnce()
    #expect(setup.server.requests.count == 1, "delivered once")
    #expect(setup.store.store.metrics.snapshot.webhookAttempts == ["delivered": 1])
  }

  @Test func aFailedAttemptIsTriedAgainWhenItsDelayHasPassedOnTheClock() throws {
    let setup = try Setup(replies: [ScriptedHTTPServer.status(503), ScriptedHTTPServer.status(200)])
    setup.deliverer.deliverDueOnce()
    let failed = try #require(setup.webhook)
    #expect(failed.attempts == 1 && failed.deliveredAt == nil)
    #expect(failed.lastError?.contains("503") == true, "\(failed)")
    let saved = try #require(setup.queued.first)
    #expect(saved.attempts == 1 && saved.nextAttemptAt == setup.store.clock.now().adding(seconds: 5))
    setup.store.clock.advance(milliseconds: 4_999)
    setup.deliverer.deliverDueOnce()
    #expect(setup.server.requests.count == 1, "not before its 5 s")
    setup.store.clock.advance(milliseconds: 1)
    setup.deliverer.deliverDueOnce()
    #expect(setup.server.requests.count == 2)
    #expect(setup.webhook?.deliveredAt == setup.store.clock.now() && setup.webhook?.attempts == 2)
    #expect(setup.queued.isEmpty)
    #expect(setup.store.store.metrics.snapshot.webhookAttempts == ["failed": 1, "delivered": 1])
  }

  @Test func anEventFailingForADayIsGivenUpAndTheJobSaysSo() throws {
    let setup = try Setup(replies: [ScriptedHTTPServer.status(500)])
    setup.deliverer.deliverDueOnce()
    #expect(setup.queued.count == 1)
    setup.store.clock.advance(seconds: WebhookDelivery.lifetimeSeconds)
    setup.deliverer.deliverDueOnce()
    #expect(setup.server.requests.count == 2)
    let given = try #require(setup.webhook)
    #expect(given.gaveUp == true && given.attempts == 2 && given.lastError?.contains("500") == true)
    #expect(setup.queued.isEmpty, "a given-up event leaves the spool")
    #expect(setup.store.store.metrics.snapshot.webhookAttempts == ["failed": 1, "given_up": 1])
    let document = try #require(setup.store.directory.read("outbox/jobs/\(setup.job.id).json"))
    #expect(document.contains(#""gave_up":true"#), "\(document)")
  }
}
