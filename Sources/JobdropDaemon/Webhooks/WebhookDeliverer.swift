import JobdropModel
import JobdropState
import JobdropSystem
import Logging
import Synchronization

/// Delivers webhook events beside the jobs, never in their way: one lane (a thread and an HTTP
/// connection) per partner, so a slow or dead receiver holds up only its own partner's events.
///
/// A lane sends its due events oldest first. A 2xx within 10 s is a delivery: the event's file leaves
/// the spool and the job's `meta.webhook` gets `delivered_at`. Anything else is a failed attempt: the
/// event is saved with its next time (about 5 s, 30 s, 2 min, 10 min, 1 h, then hourly) and the job
/// shows `attempts` and `last_error`; after 24 h the event is given up.
public final class WebhookDeliverer: Sendable {
  let store: JobStore
  let queue: WebhookQueue
  let targets: @Sendable (String?) -> WebhookTarget?
  /// Multiplies every retry delay (tests shorten the schedule; `JOBDROP_WEBHOOK_RETRY_SCALE`).
  let retryScale: Double
  let logger: Logger
  private let state = Mutex<(lanes: [String?: Lane], started: Bool)>(([:], false))

  public init(
    store: JobStore, queue: WebhookQueue, targets: @escaping @Sendable (String?) -> WebhookTarget?,
    retryScale: Double, logger: Logger
  ) {
    self.store = store
    self.queue = queue
    self.targets = targets
    self.retryScale = retryScale
    self.logger = logger
  }

  /// Takes an event to deliver (from the store, as a job finishes, or from the spool at start).
  public func add(_ delivery: WebhookDelivery) {
    state.withLock { state in
      let lane = state.lanes[delivery.partner] ?? Lane(partner: delivery.partner, deliverer: self)
      state.lanes[delivery.partner] = lane
      lane.add(delivery)
      if state.started { lane.start() }
    }
  }

  /// Starts every lane's thread.
  public func start() {
    state.withLock { state in
      state.started = true
      for lane in state.lanes.values { lane.start() }
    }
  }

  /// Stops every lane after its current attempt (at most 10 s) and waits for them.
  public func stop() {
    let all = state.withLock { state in
      state.started = false
      return Array(state.lanes.values)
    }
    for lane in all { lane.stop() }
  }

  /// For a batch run: makes every due attempt once, the lanes side by side, and returns.
  public func deliverDueOnce() {
    let all = state.withLock { Array($0.lanes.values) }
    let threads = all.map { lane in JoinableThread(name: "jobdrop-webhooks") { lane.attemptDue() } }
    threads.forEach { $0.join() }
  }

  /// Events waiting, for `jobdrop status` and the logs.
  public var waiting: Int { state.withLock { $0.lanes.values.reduce(0) { $0 + $1.count } } }

  /// One attempt at `delivery`; returns it with its next attempt set, or `nil` when it is finished with
  /// (delivered, or given up).
  fileprivate func attempt(_ delivery: WebhookDelivery, poster: HTTPClient) -> WebhookDelivery? {
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

/// The events of one partner and the thread that sends them, one at a time.
// @unchecked: `pending`, `thread` and `stopping` are only touched under `lock` (a ConditionLock, not a Mutex: threads wait on it for a change).
private final class Lane: @unchecked Sendable {
  let partner: String?
  unowned let deliverer: WebhookDeliverer
  private let lock = ConditionLock()
  private var pending: [String: WebhookDelivery] = [:]
  private var thread: JoinableThread?
  private var stopping = false
  private lazy var poster = HTTPClient(userAgent: "jobdrop-webhooks/1")

  init(partner: String?, deliverer: WebhookDeliverer) {
    self.partner = partner
    self.deliverer = deliverer
  }

  var count: Int { lock.withLock { pending.count } }

  func add(_ delivery: WebhookDelivery) {
    lock.withLock { pending[delivery.id] = delivery }
    lock.broadcast()
  }

  func start() {
    lock.withLock {
      guard thread == nil else { return }
      stopping = false
      thread = JoinableThread(name: "jobdrop-webhooks") { [self] in run() }
    }
  }

  func stop() {
    let running = lock.withLock {
      stopping = true
      defer { thread = nil }
      return thread
    }
    lock.broadcast()
    running?.join()
  }

  /// The due event that has waited longest, or when the next one is due.
  private func next(now: Int64) -> (due: WebhookDelivery?, wake: Int64?) {
    guard let first = pending.values.min(by: { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }) else {
      return (nil, nil)
    }
    return first.nextAttemptAt.milliseconds <= now ? (first, nil) : (nil, first.nextAttemptAt.milliseconds)
  }

  private func run() {
    while true {
      let due: WebhookDelivery? = lock.withLock {
        while !stopping {
          let now = deliverer.store.clock.now().milliseconds
          let (due, wake) = next(now: now)
          if let due { return due }
          // The wall clock sets attempts; the wait is on the monotonic one.
          lock.wait(untilMilliseconds: wake.map { ConditionLock.monotonicMilliseconds() + ($0 - now) })
        }
        return nil
      }
      guard let due else { return }
      finish(due, deliverer.attempt(due, poster: poster))
    }
  }

  /// Every event due now, once each (a batch run).
  func attemptDue() {
    let now = deliverer.store.clock.now().milliseconds
    let due = lock.withLock { pending.values.filter { $0.nextAttemptAt.milliseconds <= now } }
    for delivery in due.sorted(by: { $0.nextAttemptAt < $1.nextAttemptAt }) {
      finish(delivery, deliverer.attempt(delivery, poster: poster))
    }
  }

  private func finish(_ delivery: WebhookDelivery, _ next: WebhookDelivery?) {
    lock.withLock { pending[delivery.id] = next }
  }
}
