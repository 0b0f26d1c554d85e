import JobdropCrypto
import JobdropModel
import JobdropState
import JobdropSystem
import Logging
import Synchronization

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
public final class FileDeliverer: Sendable {
  let store: JobStore
  let queue: DeliveryQueue
  let targets: @Sendable (String?) -> DeliveryTarget?
  let retryScale: Double
  let logger: Logger
  private let state = Mutex<(lanes: [String?: DeliveryLane], started: Bool)>(([:], false))

  public init(
    store: JobStore, queue: DeliveryQueue, targets: @escaping @Sendable (String?) -> DeliveryTarget?,
    retryScale: Double, logger: Logger
  ) {
    self.store = store
    self.queue = queue
    self.targets = targets
    self.retryScale = retryScale
    self.logger = logger
  }

  /// Takes a delivery (from the runner as its job succeeds, or from the spool at start).
  public func add(_ delivery: FileDelivery) {
    state.withLock { state in
      let lane = state.lanes[delivery.partner] ?? DeliveryLane(deliverer: self)
      state.lanes[delivery.partner] = lane
      lane.add(delivery)
      if state.started { lane.start() }
    }
  }

  public func start() {
    state.withLock { state in
      state.started = true
      for lane in state.lanes.values { lane.start() }
    }
  }

  public func stop() {
    let all = state.withLock { state in
      state.started = false
      return Array(state.lanes.values)
    }
    for lane in all { lane.stop() }
  }

  /// For a batch run: one attempt at every due delivery, the lanes side by side.
  public func deliverDueOnce() {
    let all = state.withLock { Array($0.lanes.values) }
    let threads = all.map { lane in JoinableThread(name: "jobdrop-deliver") { lane.attemptDue() } }
    threads.forEach { $0.join() }
  }

  public var waiting: Int { state.withLock { $0.lanes.values.reduce(0) { $0 + $1.count } } }

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

  /// One attempt at `delivery` with `transports` (the lane's, by target URL); returns it with its next
  /// attempt set, or `nil` when it is finished with.
  fileprivate func attempt(_ delivery: FileDelivery, transports: inout [String: any DeliveryTransport])
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
        transport = try target.makeTransport()
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
    guard let sha256 = FileDeliverer.sha256(of: descriptor) else {
      throw DeliveryFailure(description: "cannot read \(name): \(String(cString: strerror(errno)))")
    }
    let url = try transport.put(
      descriptor: descriptor, size: Int64(info.st_size), sha256: sha256, name: remote)
    return (url, sha256)
  }

  static func sha256(of descriptor: Int32) -> String? {
    let digest = SHA256Digest()
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var offset: off_t = 0
    while true {
      let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { return nil }
      if count == 0 { break }
      buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
      offset += off_t(count)
    }
    return digest.finalize()
  }
}

/// The deliveries of one partner and the thread that makes them, one at a time.
// @unchecked: `pending`, `thread` and `stopping` are only touched under `lock`; `transports` only by the
// lane's one attempting thread.
final class DeliveryLane: @unchecked Sendable {
  unowned let deliverer: FileDeliverer
  private let lock = ConditionLock()
  private var pending: [String: FileDelivery] = [:]
  private var thread: JoinableThread?
  private var stopping = false
  private var transports: [String: any DeliveryTransport] = [:]

  init(deliverer: FileDeliverer) { self.deliverer = deliverer }

  var count: Int { lock.withLock { pending.count } }

  func add(_ delivery: FileDelivery) {
    lock.withLock { pending[delivery.id] = delivery }
    lock.broadcast()
  }

  func start() {
    lock.withLock {
      guard thread == nil else { return }
      stopping = false
      thread = JoinableThread(name: "jobdrop-deliver") { [self] in run() }
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

  private func run() {
    while true {
      let due: FileDelivery? = lock.withLock {
        while !stopping {
          let now = deliverer.store.clock.now().milliseconds
          guard
            let first = pending.values.min(by: { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) })
          else {
            lock.wait(untilMilliseconds: nil)
            continue
          }
          if first.nextAttemptAt.milliseconds <= now { return first }
          lock.wait(
            untilMilliseconds: ConditionLock.monotonicMilliseconds()
              + (first.nextAttemptAt.milliseconds - now))
        }
        return nil
      }
      guard let due else { return }
      let next = deliverer.attempt(due, transports: &transports)
      lock.withLock { pending[due.id] = next }
    }
  }

  func attemptDue() {
    let now = deliverer.store.clock.now().milliseconds
    let due = lock.withLock { pending.values.filter { $0.nextAttemptAt.milliseconds <= now } }
    for delivery in due.sorted(by: { $0.nextAttemptAt < $1.nextAttemptAt }) {
      let next = deliverer.attempt(delivery, transports: &transports)
      lock.withLock { pending[delivery.id] = next }
    }
  }
}
