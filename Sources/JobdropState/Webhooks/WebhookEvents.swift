import JobdropSystem
import Logging
import Synchronization

/// The webhook events of jobs' final moves: saved in the spool (``WebhookQueue``) before the move they
/// announce, handed to the deliverer after it, dropped when the move does not happen.
final class WebhookEvents: Sendable {
  private struct Settings {
    var queue: WebhookQueue?
    var hasWebhook: (@Sendable (String?) -> Bool)?
    var onDelivery: (@Sendable (WebhookDelivery) -> Void)?
  }

  private let settings = Mutex(Settings())
  private let sites: OutboxSites
  private let logger: Logger

  init(sites: OutboxSites, logger: Logger) {
    self.sites = sites
    self.logger = logger
  }

  /// Turns events on: a job of a partner for which `hasWebhook` says yes gets an event saved in `queue`
  /// before it moves to `success` or `failed`, and `onDelivery` is told of it after the move (quickly:
  /// the job table's lock may be held).
  func configure(
    queue: WebhookQueue, hasWebhook: @escaping @Sendable (String?) -> Bool,
    onDelivery: @escaping @Sendable (WebhookDelivery) -> Void
  ) {
    settings.withLock { $0 = Settings(queue: queue, hasWebhook: hasWebhook, onDelivery: onDelivery) }
  }

  /// Saves the event of a job moving from `from` to `state`, if that move ends it and its partner has a
  /// webhook, marking its record as waiting for the event.
  func prepare(_ record: inout JobRecord, from: JobState? = nil, to state: JobState) throws
    -> WebhookDelivery?
  {
    guard state.isFinal, !(from?.isFinal ?? false) else { return nil }
    let (queue, hasWebhook) = settings.withLock { ($0.queue, $0.hasWebhook) }
    guard let queue, hasWebhook?(record.partner) == true else { return nil }
    record.webhook = WebhookStatus()
    let job = Job(record: record, state: state)
    let delivery = WebhookDelivery(
      job: job, document: Outbox.json(for: job, links: sites.links, ttl: sites.ttl))
    try queue.save(delivery)
    return delivery
  }

  /// Removes the saved events of moves that did not happen.
  func drop(_ deliveries: [WebhookDelivery?]) {
    guard let queue = settings.withLock({ $0.queue }) else { return }
    for case let delivery? in deliveries { try? queue.remove(delivery.id) }
  }

  /// Hands the events of moves that happened to the deliverer.
  func announce(_ deliveries: [WebhookDelivery?]) {
    guard let onDelivery = settings.withLock({ $0.onDelivery }) else { return }
    for case let delivery? in deliveries { onDelivery(delivery) }
  }

  /// The events left in the spool whose job did reach the event's state (`state` says where each job is
  /// now); the others (a crash between saving the event and the move) are removed.
  func pending(state: (String) -> JobState?) -> [WebhookDelivery] {
    guard let queue = settings.withLock({ $0.queue }) else { return [] }
    let (deliveries, damaged) = queue.load()
    for name in damaged {
      logger.error("webhook delivery file damaged; removed", metadata: ["file": "\(name)"])
    }
    return deliveries.filter { delivery in
      guard let reached = state(delivery.jobID), reached.isFinal, delivery.type == "job.\(reached.rawValue)"
      else {
        try? queue.remove(delivery.id)
        return false
      }
      return true
    }
  }
}
