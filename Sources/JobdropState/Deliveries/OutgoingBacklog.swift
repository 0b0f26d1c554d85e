import FoundationEssentials
import JobdropSystem

/// What waits in a spool to leave it — file deliveries (`deliveries/`) and webhook events (`webhooks/`) —
/// read without changing anything, for `jobdrop status`. With several nodes each node keeps what its
/// own jobs queued in its local spool: this is what an operator checks before retiring one.
public struct OutgoingBacklog: Sendable, Equatable {
  /// One folder's items.
  public struct Queue: Sendable, Equatable {
    public var count = 0
    /// When the oldest item was queued.
    public var oldest: Timestamp?
    /// The most attempts any item has had.
    public var attempts = 0
    /// The error of the item tried last, while attempts fail.
    public var lastError: String?
    /// When the item whose error is kept is tried next (the latest: it was tried last).
    fileprivate var lastErrorRetry: Timestamp?

    fileprivate mutating func add(createdAt: Timestamp, attempts: Int, next: Timestamp, error: String?) {
      count += 1
      if oldest.map({ createdAt < $0 }) ?? true { oldest = createdAt }
      self.attempts = max(self.attempts, attempts)
      if let error, attempts > 0, lastErrorRetry.map({ next > $0 }) ?? true {
        lastError = error
        lastErrorRetry = next
      }
    }
  }

  public var deliveries = Queue()
  public var webhooks = Queue()

  /// Reads the spool at `path` (nothing when it has neither folder).
  public static func read(spool path: String) -> OutgoingBacklog {
    var backlog = OutgoingBacklog()
    for delivery in items(FileDelivery.self, in: path + "/deliveries") {
      backlog.deliveries.add(
        createdAt: delivery.createdAt, attempts: delivery.attempts, next: delivery.nextAttemptAt,
        error: delivery.lastError)
    }
    for event in items(WebhookDelivery.self, in: path + "/webhooks") {
      backlog.webhooks.add(
        createdAt: event.createdAt, attempts: event.attempts, next: event.nextAttemptAt,
        error: event.lastError)
    }
    return backlog
  }

  /// The lines `jobdrop status` prints (none when nothing waits).
  public var summary: [String] {
    [("delivery", "deliveries", deliveries), ("webhook event", "webhook events", webhooks)].compactMap {
      one, many, queue in
      guard queue.count > 0 else { return nil }
      var line = "\(queue.count) \(queue.count == 1 ? one : many) waiting in this spool"
      if let oldest = queue.oldest { line += " (the oldest queued \(oldest.rfc3339)" }
      line += queue.attempts > 0 ? ", \(queue.attempts) attempt\(queue.attempts == 1 ? "" : "s"))" : ")"
      if let error = queue.lastError { line += "; last error: \(error)" }
      return line
    }
  }

  /// Every item in `folder` that reads back, nothing removed (the daemon tidies, not a reader).
  private static func items<Item: Decodable>(_ type: Item.Type, in folder: String) -> [Item] {
    guard let directory = try? DirectoryHandle(path: folder) else { return [] }
    return SpoolItems.load(type, from: directory, limit: 16 << 20, skipping: ["work"], tidying: false).items
  }
}
