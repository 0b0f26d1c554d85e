import JobdropModel
import JobdropState
import JobdropSystem
import Logging

/// Delivers webhook events beside the jobs, never in their way: one lane (a thread and an HTTP
/// connection) per partner, so a slow or dead receiver holds up only its own partner's events.
///
/// A lane sends its due events oldest first. A 2xx within 10 s is a delivery: the event's file leaves
/// the spool and the job's `meta.webhook` gets `delivered_at`. Anything else is a failed attempt: the
/// event is saved with its next time (about 5 s, 30 s, 2 min, 10 min, 1 h, then hourly) and the job
/// shows `attempts` and `last_error`; after 24 h the event is given up.
public final class WebhookDeliverer: LaneWork {
  private let sender: WebhookSender
  private let lanes: Lanes<WebhookDelivery>

  public init(
    store: JobStore, queue: WebhookQueue, targets: @escaping @Sendable (String?) -> WebhookTarget?,
    retryScale: Double, logger: Logger
  ) {
    let sender = WebhookSender(
      store: store, queue: queue, targets: targets, retryScale: retryScale, logger: logger)
    self.sender = sender
    // Each lane posts over an HTTP connection of its own.
    lanes = Lanes(clock: store.clock, threadName: "jobdrop-webhooks") {
      let poster = HTTPClient(userAgent: "jobdrop-webhooks/1")
      return { delivery in sender.attempt(delivery, poster: poster) }
    }
  }

  /// Takes an event to deliver (from the store, as a job finishes, or from the spool at start).
  public func add(_ delivery: WebhookDelivery) { lanes.add(delivery) }

  /// Starts every lane's thread.
  public func start() { lanes.start() }

  /// Stops every lane after its current attempt (at most 10 s) and waits for them.
  public func stop() { lanes.stop() }

  /// For a batch run: makes every due attempt once, the lanes side by side, and returns.
  public func deliverDueOnce() { lanes.attemptDueOnce() }

  /// Events waiting, for `jobdrop status` and the logs.
  public var waiting: Int { lanes.waiting }
}

extension WebhookDelivery: LaneItem {}

/// One webhook attempt and what it records.
private struct WebhookSender: Sendable {
  let store: JobStore
  let queue: WebhookQueue
  let targets: @Sendable (String?) -> WebhookTarget?
  /// Multiplies every retry delay (tests shorten the schedule; `JOBDROP_WEBHOOK_RETRY_SCALE`).
  let retryScale: Double
  let logger: Logger

  /// One attempt at `delivery`; returns it with its next attempt set, or `nil` when it is finished with
  /// (delivered, or given up).
  func attempt(_ delivery: WebhookDelivery, poster: HTTPClient) -> WebhookDelivery? {
    var delivery = delivery
    let now = store.clock.now()
    let outcome: HTTPClient.PostOutcome
    if let target = targets(delivery.partner) {
      let signature = WebhookSigner.signature(
        id: delivery.id, timestamp: now.seconds, body: delivery.body, secret: target.secret)
      outcome = poster.post(
        target.url,
        headers: [
          "webhook-id: \(delivery.id)", "webhook-timestamp: \(now.seconds)",
          "webhook-signature: \(signature)",
        ], body: delivery.body)
    } else {
      outcome = .failed("no webhook is configured for this partner any more")
    }
    delivery.attempts += 1
    var metadata: Logger.Metadata = [
      "job.id": "\(delivery.jobID)", "webhook.id": "\(delivery.id)",
      "webhook.attempt": "\(delivery.attempts)",
    ]
    if let partner = delivery.partner { metadata["partner"] = "\(partner)" }
    switch outcome {
    case .delivered(let status):
      try? queue.remove(delivery.id)
      store.recordWebhook(
        WebhookStatus(deliveredAt: store.clock.now(), attempts: delivery.attempts), jobID: delivery.jobID)
      metadata["http.status"] = "\(status)"
      store.metrics.webhookAttempted("delivered")
      logger.info("webhook delivered", metadata: metadata)
      return nil
    case .failed(let reason):
      delivery.lastError = reason
      metadata["error"] = "\(reason)"
      let next = now.milliseconds + WebhookDelivery.delay(after: delivery.attempts, scale: retryScale)
      if next > delivery.createdAt.milliseconds + WebhookDelivery.lifetimeSeconds * 1000 {
        try? queue.remove(delivery.id)
        store.recordWebhook(
          WebhookStatus(attempts: delivery.attempts, lastError: reason, gaveUp: true), jobID: delivery.jobID)
        store.metrics.webhookAttempted("given_up")
        logger.error("webhook given up after 24 hours", metadata: metadata)
        return nil
      }
      delivery.nextAttemptAt = Timestamp(milliseconds: next)
      do {
        try queue.save(delivery)
      } catch {
        logger.warning("cannot save the webhook's next attempt", metadata: ["error": "\(error)"])
      }
      store.recordWebhook(
        WebhookStatus(attempts: delivery.attempts, lastError: reason), jobID: delivery.jobID)
      store.metrics.webhookAttempted("failed")
      logger.warning("webhook attempt failed; will retry", metadata: metadata)
      return delivery
    }
  }
}
