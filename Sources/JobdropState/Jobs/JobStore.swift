import JobdropExport
import JobdropModel
import JobdropPostgres
import JobdropSystem
import Logging

/// The live jobs, in memory and on disk: every change is made durable by the backend first
/// (``JobBackend``: the spool's folders, or a table several nodes share), then applied to the job table
/// (``JobTable``) and published in the outbox.
///
/// Safe to use from several threads: every call holds the store's lock for the table. A group's spool
/// files and the documents of both kinds of groups are written outside it, in the order they were
/// prepared (``withLockPublishingAfter(_:beforeWriting:)``), and the index by ``IndexRenderer``.
/// Recovery is ``JobRecovery``; following other nodes is in `JobStore+Following.swift`.
// @unchecked: `table`, `cancelHandler`, `runFinishedHandler`, `rendersIndex` and `deferredPublications` are only touched under
// `lock`, a ConditionLock because a group's documents are handed over to `outboxWrites` as it is
// released (``ConditionLock/withLock(_:handingOverTo:_:)``), which a Mutex cannot do.
public final class JobStore: @unchecked Sendable {
  /// This node's own spool: claimed inbox files are retired through it, webhook events kept in it.
  public let spool: Spool
  /// Where the jobs are kept.
  public let backend: any JobBackend
  /// The sites jobs are published in (one per partner with `--partners`).
  public let sites: OutboxSites
  /// The clock every decision of the store, its runners and its intake reads.
  public let clock: ServiceClock
  /// What jobs did, for the metrics.
  public let metrics = JobMetrics()
  let logger: Logger
  let lock = ConditionLock()
  var table: JobTable
  /// Held while jobs' documents are written, taken after `lock` (never the other way round).
  let outboxWrites = ConditionLock()
  /// While a call defers its documents' writes until the lock is released: what it prepared.
  var deferredPublications: [Outbox.Publication]?
  /// When each site's index is rendered.
  let index: IndexRenderer
  /// Whether this process renders the index now (with several nodes, the holder of the index lock).
  var rendersIndex: Bool
  /// Webhook events: saved before the moves they announce, delivered after them.
  let events: WebhookEvents
  var cancelHandler: (@Sendable (String) -> Void)?
  /// Told (quickly: the lock is held) when a schedule's run reaches `success` or `failed`.
  var runFinishedHandler: (@Sendable () -> Void)?

  /// The error of a cancelled job.
  public static let cancelled = JobTransitions.cancelled

  /// What a cancel request did.
  public enum CancelResult: String, Sendable {
    case cancelled
    case alreadyFinished = "already finished"
    case noSuchJob = "no such job"
  }

  /// Whether a failed spool write may succeed later (a full or failing disk, a shared table out of
  /// reach): the step is retried, the job and the daemon go on.
  public static func isTransient(_ error: any Error) -> Bool {
    (error as? FileSystemError)?.isTransient ?? (error as? PostgresError)?.isTransient ?? false
  }

  /// A store of `spool`'s jobs, or of `backend`'s (several nodes) with `spool` for this node's own files.
  public init(
    spool: Spool, sites: OutboxSites, logger: Logger, indexInterval: Int64 = 0,
    backend: (any JobBackend)? = nil, clock: ServiceClock = .system
  ) {
    self.clock = clock
    self.spool = spool
    self.backend = backend ?? FileJobBackend(spool: spool)
    self.sites = sites
    self.logger = logger
    table = JobTable(queuesLocally: !self.backend.picksNextJob)
    rendersIndex = !self.backend.isShared
    index = IndexRenderer(interval: indexInterval, logger: logger)
    events = WebhookEvents(sites: sites, logger: logger)
  }

  /// Recovers the jobs (``JobRecovery``) and republishes every job's documents and the index. A document
  /// that cannot be written now (a full disk) does not stop the start: ``republish()`` retries it.
  /// `folders` are the drop folders read, by partner (`nil`: the inbox itself); `parser` reads the request
  /// of a job whose status file was damaged.
  public func recover(
    _ spoolLock: SpoolLock, inbox: Inbox, folders: [String?: Inbox], parser: RequestParser? = nil
  ) throws {
    try lock.withLock {
      let recovery = JobRecovery(
        backend: backend, spool: spool, sites: sites, folders: folders, parser: parser, clock: clock,
        logger: logger)
      try recovery.run(spoolLock, inbox: inbox) { job in
        table.add(job)
        publishLocked(job, unlessUnchanged: true, pageRow: false)
        index.markDirty(job.record.partner)
      }
      for (partner, _) in sites.opened { index.markDirty(partner) }
    }
    try? publishIndex(force: true)
    // Reading every status file and document left the heap full of freed blocks: give them back.
    Heap.trim()
  }

  // MARK: Reading

  /// The job `id`, whole: a pending or finished one is read back from the backend.
  func lookupLocked(_ id: String) -> Job? {
    if let job = table.cached(id) { return job }
    guard let state = table.summaries[id]?.state else { return nil }
    return backend.job(id: id, state: state)
  }

  /// The job with `id`, as the store has it now (a pending or finished one as the backend has it).
  public func job(id: String) -> Job? { lock.withLock { lookupLocked(id) } }

  /// Each partner's pending and started jobs now, and when its oldest pending job was created.
  public func queueStates() -> [String?: (pending: Int, started: Int, oldestPending: Timestamp?)] {
    lock.withLock { table.queueStates() }
  }

  /// How many jobs are pending or started now, of every partner.
  public var activeTotal: Int { lock.withLock { table.activeTotal } }

  /// How many of `partner`'s jobs are pending or started now.
  public func activeCount(partner: String?) -> Int { lock.withLock { table.activeCount(partner: partner) } }

  /// When the earliest job waiting to retry may start, if any job waits.
  public func nextRetry() -> Timestamp? { lock.withLock { table.nextRetry } }

  /// Whether this node lost the lease of its started job `id` (several nodes): its runner abandons it.
  public func hasLostLease(_ id: String) -> Bool { lock.withLock { table.leaseLost.contains(id) } }

  /// Whether the started job `id` was cancelled by its partner.
  public func isCancelRequested(_ id: String) -> Bool { lock.withLock { table.cancelRequested.contains(id) } }

  /// The job of `partner` that idempotency key `key` names while it is published (pending, started, or
  /// finished and not yet expired), if any.
  public func keyedJob(partner: String?, idempotencyKey key: String) -> Job? {
    lock.withLock { table.keyed(partner: partner, key: key).flatMap { lookupLocked($0) } }
  }

  // MARK: Writing a record

  /// Writes a job's record in its state; a backend shared with other nodes tells whether its partner
  /// asked to cancel it, or that this node lost its lease.
  func writeLocked(_ job: Job) throws {
    do {
      if try backend.update(job) { table.cancelRequested.insert(job.id) }
    } catch let error as LeaseLost {
      table.leaseLost.insert(job.id)
      throw error
    }
    table.written(job)
  }

  /// Writes `job`'s record where a failure must not undo what was done: it is logged (naming `what`) and
  /// the table keeps the change.
  func saveLocked(_ job: Job, what: String) {
    do {
      try writeLocked(job)
    } catch {
      logger.warning(
        "cannot record \(what) in the spool", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
    }
  }

  /// Stores and publishes a job's record without changing its state (progress).
  public func update(_ job: Job) throws {
    try lock.withLock {
      guard let stored = table.jobs[job.id], stored.state == job.state else { return }
      var job = job
      job.record.updatedAt = clock.now()
      job.record.requestAliases = stored.record.requestAliases  // added by the intake meanwhile
      job.record.cancelRequested = stored.record.cancelRequested
      try writeLocked(job)
      publishLocked(job)
      index.markDirty(job.record.partner)
    }
  }

  /// Makes the request file `name` show `job` in `requests/` (a request with its idempotency key),
  /// durably: the name is kept in the job's record and its documents are republished.
  public func addAlias(_ name: String, to job: Job) throws -> Job {
    try lock.withLock {
      waitForCommitLocked(job.id)
      guard var current = lookupLocked(job.id) else { return job }
      if current.record.requestAliases?.contains(name) != true {
        current.record.requestAliases = (current.record.requestAliases ?? []) + [name]
        try writeLocked(current)
      }
      publishLocked(current)
      return current
    }
  }

  /// Records where a job's webhook event stands (`meta.webhook`), durably, without touching the job's
  /// `updated_at`; nothing for a job that has expired meanwhile.
  public func recordWebhook(_ status: WebhookStatus, jobID: String) {
    record(jobID, what: "the webhook's status") { $0.webhook = status }
  }

  /// Records where a job's delivery stands (`meta.delivery`), as ``recordWebhook(_:jobID:)`` does.
  public func recordDelivery(_ status: DeliveryStatus, jobID: String) {
    record(jobID, what: "the delivery's status") { $0.delivery = status }
  }

  /// Changes a job's record beside its state (`meta.webhook`, `meta.delivery`), saves and publishes it.
  private func record(_ jobID: String, what: String, _ change: (inout JobRecord) -> Void) {
    lock.withLock {
      guard var job = lookupLocked(jobID) else { return }
      change(&job.record)
      saveLocked(job, what: what)
      table.store(job)
      publishLocked(job)
      index.markDirty(job.record.partner)
    }
  }

  // MARK: Cancel

  /// Cancels `partner`'s job `id`: a pending one fails with ``cancelled`` at once; a started one is marked
  /// for its runner to stop (``isCancelRequested(_:)``), its cancel durable before this returns; a
  /// finished one is left alone. Another partner's job is no such job.
  public func cancel(id: String, partner: String?) throws -> CancelResult {
    let (result, handler): (CancelResult, (@Sendable (String) -> Void)?) = try lock.withLock {
      waitForCommitLocked(id)
      guard let state = table.state(of: id), table.partner(of: id) == partner else {
        return (.noSuchJob, nil)
      }
      if state.isFinal { return (.alreadyFinished, nil) }
      guard let job = lookupLocked(id) else { return (.noSuchJob, nil) }
      switch job.state {
      case .success, .failed:
        return (.alreadyFinished, nil)
      case .pending:
        do {
          _ = try moveLocked(job, to: .failed, record: JobTransitions.cancelledRecord(job.record))
        } catch is LeaseLost {
          // Another node started it meanwhile: its runner is asked to stop it.
          try backend.requestCancel(job)
        }
        return (.cancelled, nil)
      case .started:
        // Recorded before the answer: from here on a stop fails the job instead of running it again.
        var marked = job
        marked.record.cancelRequested = true
        try backend.requestCancel(marked)
        table.cancelled(marked)
        return (.cancelled, cancelHandler)
      }
    }
    handler?(id)
    return result
  }

  /// Calls `handler` with a started job's id when its partner cancels it (the runner interrupts the
  /// job's query).
  public func onCancel(_ handler: @escaping @Sendable (String) -> Void) {
    lock.withLock { cancelHandler = handler }
  }

  /// Calls `handler` whenever a schedule's run finishes (it must only wake a thread).
  public func onRunFinished(_ handler: @escaping @Sendable () -> Void) {
    lock.withLock { runFinishedHandler = handler }
  }

  // MARK: Expiry and the index

  /// Removes finished jobs created more than the outbox's TTL before `now`; returns how many.
  @discardableResult
  public func expire(now: Timestamp) throws -> Int {
    lock.withLock {
      var removed = 0
      for (id, job) in table.finished(createdBy: now.adding(seconds: -sites.ttl)) {
        do {
          try outboxWrites.withLock {
            try sites.open(partner: job.partner).remove(id: id, created: job.createdAt)
          }
          CrashPoint.reached("mid-expiry")
          try backend.remove(id, in: job.state)
        } catch {
          // Tried again at the next sweep; the job stays listed until then.
          logger.warning("cannot expire the job yet", metadata: ["job.id": "\(id)", "error": "\(error)"])
          continue
        }
        table.expired(id)
        index.markDirty(job.partner)
        removed += 1
        logger.info("job expired", metadata: ["job.id": "\(id)"])
      }
      return removed
    }
  }

  /// Calls `handler` (from the thread that changed a job, so it must be quick) whenever an index goes out
  /// of date: the outbox renderer wakes on it instead of polling.
  public func onIndexChange(_ handler: @escaping @Sendable () -> Void) { index.onChange(handler) }

  /// When the next index render may run (monotonic milliseconds), or `nil` when every index is current.
  public func nextIndexRender() -> Int64? { index.nextRender }

  /// Marks `partner`'s site for an index render (a new partner's site gets an empty index at once).
  public func touchSite(partner: String?) { index.markDirty(partner) }

  /// Renders the `index.json` of every site where anything changed, when ``IndexRenderer`` allows (or
  /// `force`). Each document is assembled under the lock and written outside it, after the documents
  /// prepared before it. With several nodes, only the one that holds the index lock renders.
  public func publishIndex(force: Bool = false) throws {
    guard lock.withLock({ rendersIndex }) else {
      index.clear()
      return
    }
    try index.render(force: force) { partners in
      lock.withLock {
        let clock = ContinuousClock.now
        var unopened: (any Error)?
        var documents: [(partner: String?, site: Outbox, bytes: Outbox.IndexDocuments)] = []
        for partner in partners {
          do {
            let site = try sites.open(partner: partner)
            documents.append((partner, site, site.indexDocuments { self.lookupLocked($0).map(JobPage.row) }))
          } catch {
            unopened = error
          }
        }
        return ((documents, ContinuousClock.now - clock), unopened)
      }
    } waitForDocuments: {
      outboxWrites.withLock {}
    }
  }

  // MARK: Webhooks

  /// Turns on webhook events (see ``WebhookEvents/configure(queue:hasWebhook:onDelivery:)``). Call
  /// before ``recover(_:inbox:folders:parser:)``.
  public func configureWebhooks(
    queue: WebhookQueue, hasWebhook: @escaping @Sendable (String?) -> Bool,
    onDelivery: @escaping @Sendable (WebhookDelivery) -> Void
  ) {
    events.configure(queue: queue, hasWebhook: hasWebhook, onDelivery: onDelivery)
  }

  /// The deliveries left in the spool whose job did reach the event's state; the others are removed.
  /// Call after ``recover(_:inbox:folders:parser:)``.
  public func pendingDeliveries() -> [WebhookDelivery] {
    events.pending { id in lock.withLock { table.summaries[id]?.state } }
  }
}
