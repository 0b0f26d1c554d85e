import JobdropCrypto
import JobdropModel
import JobdropState
import JobdropSystem
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Pushes successful exports into their partners' storage (`deliver`), beside the jobs and never in
/// their way: one lane (a thread and a connection) per partner, as webhooks have, so a dead server holds
/// up only its own partner's deliveries.
///
/// A delivery pushes its files in order (a split export's parts, then its manifest), each under a name
/// that holds the job id, encrypted first when the target says `encrypt_to`; each file that arrives is
/// recorded in the delivery's spool file, so a retry or a restart goes on from the next. A failed attempt
/// waits about 5 s, 30 s, 2 min, 10 min, 1 h, then hourly; after 24 h the delivery is given up. The
/// job's `meta.delivery` says where it stands.
public final class FileDeliverer: LaneWork {
  let queue: DeliveryQueue
  private let store: JobStore
  private let logger: Logger
  private let lanes: Lanes<FileDelivery>

  public init(
    store: JobStore, queue: DeliveryQueue, targets: @escaping @Sendable (String?) -> DeliveryTarget?,
    retryScale: Double, logger: Logger
  ) {
    self.store = store
    self.queue = queue
    self.logger = logger
    let sender = FileSender(
      store: store, queue: queue, targets: targets, retryScale: retryScale, logger: logger)
    // Each lane keeps its own connections (transports, by target URL).
    lanes = Lanes(clock: store.clock, threadName: "jobdrop-deliver") {
      var transports: [String: any DeliveryTransport] = [:]
      return { delivery in sender.attempt(delivery, transports: &transports) }
    }
  }

  /// Takes a delivery (from the runner as its job succeeds, or from the spool at start).
  public func add(_ delivery: FileDelivery) { lanes.add(delivery) }

  public func start() { lanes.start() }

  public func stop() { lanes.stop() }

  /// For a batch run: one attempt at every due delivery, the lanes side by side.
  public func deliverDueOnce() { lanes.attemptDueOnce() }

  public var waiting: Int { lanes.waiting }

  /// The deliveries left in the spool whose job is in `success`; the others are removed.
  public func resume() {
    let (deliveries, damaged) = queue.load()
    for name in damaged { logger.error("delivery file damaged; removed", metadata: ["file": "\(name)"]) }
    for delivery in deliveries {
      if store.job(id: delivery.jobID)?.state == .success {
        add(delivery)
      } else {
        queue.remove(delivery.id)
      }
    }
  }
}

extension FileDelivery: LaneItem {}

/// One delivery attempt and what it records.
private struct FileSender: Sendable {
  let store: JobStore
  let queue: DeliveryQueue
  let targets: @Sendable (String?) -> DeliveryTarget?
  let retryScale: Double
  let logger: Logger

  /// One attempt at `delivery` with `transports` (the lane's, by target URL); returns it with its next
  /// attempt set, or `nil` when it is finished with.
  func attempt(_ delivery: FileDelivery, transports: inout [String: any DeliveryTransport])
    -> FileDelivery?
  {
    var delivery = delivery
    guard let job = store.job(id: delivery.jobID), job.state == .success else {
      // Cancelled as it finished, or expired: nothing to push any more.
      queue.remove(delivery.id)
      return nil
    }
    delivery.attempts += 1
    var metadata: Logger.Metadata = [
      "job.id": "\(delivery.jobID)", "delivery.attempt": "\(delivery.attempts)",
    ]
    if let partner = delivery.partner { metadata["partner"] = "\(partner)" }
    do throws(DeliveryFailure) {
      guard let target = targets(delivery.partner) else {
        throw DeliveryFailure(description: "no deliver is configured for this partner any more")
      }
      metadata["delivery.url"] = "\(target.url)"
      let transport: any DeliveryTransport
      if let made = transports[target.url] {
        transport = made
      } else {
        transport = try target.makeTransport(workFolder: queue.workPath)
        transports[target.url] = transport
      }
      let folder = (try? store.sites.site(for: job).root.path).map { $0 + "/files/\(job.id)" } ?? ""
      var last: (url: String, sha256: String)?
      while delivery.delivered < delivery.files.count {
        let name = delivery.files[delivery.delivered]
        last = try push(folder + "/" + name, as: "\(job.id)-\(name)", target: target, transport: transport)
        CrashPoint.reached("file-delivered")
        delivery.delivered += 1
        if delivery.delivered < delivery.files.count { try? queue.save(delivery) }
      }
      queue.remove(delivery.id)
      store.recordDelivery(
        DeliveryStatus(
          deliveredAt: store.clock.now(), url: last?.url, sha256: last?.sha256, attempts: delivery.attempts),
        jobID: delivery.jobID)
      store.metrics.deliveryAttempted("delivered")
      logger.info("export delivered", metadata: metadata)
      return nil
    } catch {
      let reason = error.description
      delivery.lastError = reason
      metadata["error"] = "\(reason)"
      transports = [:]  // a new connection next time
      let now = store.clock.now()
      let next = now.milliseconds + WebhookDelivery.delay(after: delivery.attempts, scale: retryScale)
      if next > delivery.createdAt.milliseconds + WebhookDelivery.lifetimeSeconds * 1000 {
        queue.remove(delivery.id)
        store.recordDelivery(
          DeliveryStatus(attempts: delivery.attempts, lastError: reason, gaveUp: true), jobID: delivery.jobID)
        store.metrics.deliveryAttempted("given_up")
        logger.error("delivery given up after 24 hours", metadata: metadata)
        return nil
      }
      delivery.nextAttemptAt = Timestamp(milliseconds: next)
      try? queue.save(delivery)
      store.recordDelivery(
        DeliveryStatus(attempts: delivery.attempts, lastError: reason), jobID: delivery.jobID)
      store.metrics.deliveryAttempted("failed")
      logger.warning("delivery attempt failed; will retry", metadata: metadata)
      return delivery
    }
  }

  /// Pushes one file (encrypted first if the target says so) under `name`; returns where it went and
  /// the SHA-256 of the bytes sent.
  private func push(_ path: String, as name: String, target: DeliveryTarget, transport: any DeliveryTransport)
    throws(DeliveryFailure) -> (url: String, sha256: String)
  {
    var source = path
    var remote = name
    var encrypted: String?
    defer { if let encrypted { unlink(encrypted) } }
    if let key = target.encryptTo {
      let work = queue.workPath
      encrypted = work + "/\(AtomicWriter.temporaryPrefix)\(name).pgp"
      try PGPEncryptor.encrypt(path, to: key, output: encrypted!, home: work + "/gnupg")
      source = encrypted!
      remote += ".pgp"
    }
    let descriptor = open(source, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw DeliveryFailure(description: "cannot read \(name): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var info = stat()
    fstat(descriptor, &info)
    return try transport.put(descriptor: descriptor, size: Int64(info.st_size), name: remote)
  }
}
