import JobdropModel
import JobdropState
import JobdropSystem
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// The opened directories and collaborators of one jobdrop process, built from a ``Configuration``.
///
/// Opening it takes the spool lock (one process per spool) and recovers the spool.
// @unchecked: immutable after init (nothing to lock); each member is Sendable or documents its own rule.
public final class Workspace: @unchecked Sendable {
  public let configuration: Configuration
  public let inbox: Inbox
  public let store: JobStore
  /// The job table several nodes share (`--spool postgres://…`), when the jobs are kept there.
  public let shared: SharedJobBackend?
  /// The drop folders and their intakes (one per partner with `--partners`).
  public let intakes: IntakeSet
  public let runner: JobRunner
  /// The webhook deliveries, when any partner may have a webhook (or `--webhook-url` is set).
  public let webhooks: WebhookDeliverer?
  /// The pushes into partners' storage, when any partner may have `deliver` (or `--deliver` is set).
  public let deliveries: FileDeliverer?
  /// The bucket the outbox is also published to (`--publish`).
  public let mirror: BucketMirror?
  /// The standing requests (`schedule`), whose runs `jobdrop run` makes.
  public let schedules: Schedules
  private let lock: SpoolLock

  public init(configuration: Configuration, logger: Logger) throws {
    let catalog = configuration.catalog
    let partners = try configuration.loadPartners()
    // Over a file-size limit (RLIMIT_FSIZE) write(2) then fails with EFBIG, which fails the job, instead
    // of the signal killing the daemon.
    signal(SIGXFSZ, SIG_IGN)
    // A log reader that went away (`jobdrop run | head`) loses the log lines, not the daemon: EPIPE.
    signal(SIGPIPE, SIG_IGN)
    self.configuration = configuration
    let spool = try Spool(path: configuration.spool)
    lock = try spool.lock()
    let format = try SpoolFormat.upgrade(spool.root)
    if format < SpoolFormat.current {
      logger.notice(
        "spool upgraded",
        metadata: ["from": "\(format)", "to": "\(SpoolFormat.current)", "spool": "\(configuration.spool)"])
    }
    inbox = try Inbox(path: configuration.inbox)
    try Workspace.checkSameFileSystem(inbox: inbox.directory, spool: spool.root)
    if let target = configuration.publish {
      try target.checkCredentials()
      mirror = BucketMirror(
        target: target, outbox: configuration.outbox, spool: spool.root, logger: logger,
        sharesBucket: configuration.sharedSpool != nil)
    } else {
      mirror = nil
    }
    let sites = try OutboxSites(
      path: configuration.outbox, links: OutboxLinks(baseURL: configuration.baseURL),
      ttl: configuration.ttlSeconds, observer: mirror)
    if partners == nil {
      do {
        _ = try sites.open(partner: nil)
      } catch {
        // A full disk, even before anything was written: the daemon starts, and the outbox is written
        // once space returns (the outbox renderer retries and says so).
        guard error.isTransient else { throw error }
        logger.warning(
          "cannot write the outbox now; it is written once it can be", metadata: ["error": "\(error)"])
      }
    }
    shared = try configuration.sharedSpool.map { url in
      SharedJobBackend(
        table: try PostgresSpool(
          url: url, node: configuration.nodeName ?? Workspace.nodeName(spool: spool.root.path),
          leaseSeconds: configuration.leaseSeconds))
    }
    if let table = shared?.table, table.migratedFrom < PostgresSpool.format {
      logger.notice(
        "shared spool upgraded", metadata: ["from": "\(table.migratedFrom)", "to": "\(PostgresSpool.format)"])
    }
    store = JobStore(spool: spool, sites: sites, logger: logger, backend: shared)
    if partners != nil || configuration.webhook != nil {
      let queue = try WebhookQueue(spool: spool)
      let targets = configuration.webhookTargets(partners)
      let deliverer = WebhookDeliverer(
        store: store, queue: queue, targets: targets, retryScale: configuration.webhookRetryScale,
        logger: logger)
      store.configureWebhooks(queue: queue, hasWebhook: { targets($0) != nil }) { deliverer.add($0) }
      webhooks = deliverer
    } else {
      webhooks = nil
    }
    if partners != nil || configuration.deliver != nil {
      let queue = try DeliveryQueue(spool: spool)
      let targets = configuration.deliveryTargets(partners)
      let deliverer = FileDeliverer(
        store: store, queue: queue, targets: targets, retryScale: configuration.webhookRetryScale,
        logger: logger)
      deliveries = deliverer
    } else {
      deliveries = nil
    }
    // With several nodes the schedules are in the shared table too: any node makes a schedule's runs.
    schedules = try Schedules(
      store: store, parser: RequestParser(catalog: catalog), partners: partners,
      backend: shared.map { SharedScheduleBackend(table: $0.table) }, logger: logger)
    intakes = try IntakeSet(
      root: inbox, store: store, parser: RequestParser(catalog: catalog),
      settleMilliseconds: configuration.settleMilliseconds,
      graceMilliseconds: configuration.graceMilliseconds, partners: partners, schedules: schedules,
      logger: logger)
    runner = JobRunner(
      store: store, catalog: catalog, source: configuration.source.makeSource(),
      emptyOK: configuration.emptyOK,
      rawCSV: configuration.rawCSV, partners: partners, logger: logger)
    runner.retries = configuration.retries
    try store.recover(
      lock, inbox: inbox,
      folders: Dictionary(intakes.all.map { ($0.partner, $0.intake.inbox) }) { first, _ in first },
      parser: RequestParser(catalog: catalog))
    for delivery in store.pendingDeliveries() { webhooks?.add(delivery) }
    deliveries?.resume()
    if let deliveries {
      let targets = configuration.deliveryTargets(partners)
      runner.deliveries = JobRunner.DeliveryHook(
        queue: deliveries.queue, wants: { targets($0) != nil }, add: { deliveries.add($0) })
    }
    schedules.load()
  }

  /// A node's default name in a shared spool: the host's name and its local spool's path, which only one
  /// process at a time can hold (so a restarted node knows the jobs it held before as its own).
  static func nodeName(spool path: String) -> String {
    var host = [CChar](repeating: 0, count: 256)
    gethostname(&host, host.count - 1)
    let resolved = realpath(path, nil).map { pointer in
      defer { free(pointer) }
      return String(cString: pointer)
    }
    let name = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return "\(name):\(resolved ?? path)"
  }

  /// Claiming is a rename: inbox and spool must be on one file system.
  static func checkSameFileSystem(inbox: DirectoryHandle, spool: DirectoryHandle) throws {
    var inboxInfo = stat()
    var spoolInfo = stat()
    fstat(inbox.descriptor, &inboxInfo)
    fstat(spool.descriptor, &spoolInfo)
    if inboxInfo.st_dev != spoolInfo.st_dev {
      throw ConfigurationError(
        "inbox \(inbox.path) and spool \(spool.path) are on different file systems; claiming a request is a rename"
      )
    }
  }
}
