import JobdropExport
import JobdropModel
import JobdropSystem
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// The live jobs, in memory and on disk: every state change goes to the spool first, then to the outbox.
///
/// Holds the one in-memory table of jobs, loaded from the spool at start: started jobs whole, pending and
/// finished ones as a ``JobSummary`` (what the queue, cancel and expiry need; the rest is read back from
/// the spool when the job starts or changes), so the memory a job holds while it waits or once it has
/// finished is small and flat. After each call the spool is
/// durable and the job's own documents are published; `index.json` is rendered by ``publishIndex(force:)``,
/// which the outbox renderer calls as soon as ``onIndexChange(_:)`` tells it an index is out of date:
/// the first change after a quiet spell renders at once, and after a render that took *t* the next waits
/// 10 *t*, so a burst coalesces and rendering stays under a tenth of the time.
/// Safe to use from several threads: every call holds the store's lock for the table. What a burst's
/// group commits write is written outside it: the spool's files of a group of outcomes (only the
/// committer moves a staged job) and the documents of both kinds of groups (in the order they were
/// prepared, before any later write of the outbox; ``withLockPublishingAfter(_:)``), as is the index.
// @unchecked: every mutable property is read and written under `lock`; the index under `indexLock`.
public final class JobStore: @unchecked Sendable {
  public let spool: Spool
  /// The job table several nodes share (`--spool postgres://…`), which then holds the jobs instead of
  /// the spool's state folders; the local spool keeps what is this node's own (retiring inbox files,
  /// webhook events). The table here follows it (``follow()``).
  public let shared: PostgresSpool?
  /// How far the shared table's changes are applied here.
  private var followed = PostgresSpool.FeedPosition.start
  /// Started jobs of this node whose lease it lost (their runner abandons them).
  private var leaseLost = Set<String>()
  /// With a shared table: the jobs this node started and runs now (the table's echo of their start is
  /// not applied again; their `started` is shown as with the file spool, at their first progress write).
  private var runningHere = Set<String>()
  /// With a shared table: whether this node holds the index lock (``checkIndexLock()``).
  private var rendersIndex = false
  /// The sites jobs are published in (one per partner with `--partners`).
  public let sites: OutboxSites
  let logger: Logger
  /// The started jobs (and claims staged in a group), whole.
  private var jobs: [String: Job] = [:]
  /// The pending and finished jobs.
  private var summaries: [String: JobSummary] = [:]
  /// The records of up to ``pendingRecordLimit`` pending jobs (file spool), so that a burst's runner
  /// does not read back, under the lock, the status file its intake just wrote; the others are read
  /// from the spool when they start.
  private var pendingRecords: [String: JobRecord] = [:]
  /// About a kilobyte each: a few megabytes, whatever the backlog.
  static let pendingRecordLimit = 4096
  /// The pending jobs waiting to retry, and when each may start.
  private var retryTimes: [String: Timestamp] = [:]
  private var pending = FairQueue()
  /// How many jobs of each partner are pending or started.
  private var active: [String?: Int] = [:]
  /// When each site's index is rendered.
  private let index: IndexRenderer
  /// Jobs whose documents could not be written (a full outbox); retried by ``republish()``.
  private var unpublished = Set<String>()
  private let lock = ConditionLock()
  /// Held while jobs' documents are written, taken after `lock` (never the other way round): documents
  /// prepared under `lock` may be written after it is released (``withLockPublishingAfter(_:)``), and
  /// every other write of the outbox waits for them, so they land in the order they were prepared.
  private let outboxWrites = ConditionLock()
  /// While a call defers its documents' writes until the lock is released: what it prepared.
  private var deferredPublications: [Outbox.Publication]?
  /// Started jobs whose partner asked to cancel them: their runner stops at its next check.
  private var cancelRequested = Set<String>()
  private var cancelHandler: (@Sendable (String) -> Void)?
  /// The export files of jobs whose success became a cancel, removed once the move is recorded.
  private var withdrawals: [String: String] = [:]
  /// The job each partner's idempotency key names, for as long as that job is published (pending,
  /// started, or finished and not yet expired).
  private var keys: [IdempotencyKey: String] = [:]

  private struct IdempotencyKey: Hashable {
    var partner: String?
    var key: String
  }

  /// A pending or finished job as the table keeps it.
  private struct JobSummary {
    var state: JobState
    var partner: String?
    var createdAt: Timestamp
    /// A pending job's retry time.
    var retryAt: Timestamp?
    /// The idempotency key its request names, forgotten when the job expires.
    var idempotencyKey: String?
  }

  /// The error of a cancelled job.
  public static let cancelled = JobTransitions.cancelled

  /// Whether a failed spool write may succeed later (a full or failing disk, a shared table out of
  /// reach): the step is retried, the job and the daemon go on.
  public static func isTransient(_ error: any Error) -> Bool {
    (error as? FileSystemError)?.isTransient ?? (error as? PostgresError)?.isTransient ?? false
  }
  /// Webhook events: saved before the moves they announce, delivered after them.
  private let events: WebhookEvents

  /// What a cancel request did.
  public enum CancelResult: String, Sendable {
    case cancelled
    case alreadyFinished = "already finished"
    case noSuchJob = "no such job"
  }

  public init(
    spool: Spool, sites: OutboxSites, logger: Logger, indexInterval: Int64 = 0, shared: PostgresSpool? = nil
  ) {
    self.spool = spool
    self.shared = shared
    self.sites = sites
    self.logger = logger
    index = IndexRenderer(interval: indexInterval, logger: logger)
    events = WebhookEvents(sites: sites, logger: logger)
  }

  /// Recovers the spool (see ``Spool/recover(_:returningRequestsTo:)``), sends jobs a dead process left
  /// `started` back to `pending`, and republishes every job's documents and the index. Damaged status
  /// files are reported here. A document that cannot be written now (a full disk) does not stop the
  /// start: it is retried by ``republish()``.
  ///
  /// `inbox` is the inbox folder (the request of a damaged job goes back there); `folders` are the drop
  /// folders read, by partner (`nil`: the inbox itself), where claimed files a stopped process left are
  /// taken away.
  /// A damaged status file's job is rebuilt under its own id (``DamagedJobRepair``), its request read
  /// and validated by `parser`.
  public func recover(
    _ spoolLock: SpoolLock, inbox: Inbox, folders: [String?: Inbox], parser: RequestParser? = nil
  ) throws {
    try lock.withLock { try recoverLocked(spoolLock, inbox: inbox, folders: folders, parser: parser) }
    try? publishIndex(force: true)
    // Reading every status file and document left the heap full of freed blocks: give them back.
    Heap.trim()
  }

  private func recoverLocked(
    _ spoolLock: SpoolLock, inbox: Inbox, folders: [String?: Inbox], parser: RequestParser?
  ) throws {
    var tidied = Set<String?>()
    for (partner, site) in sites.opened {
      tidied.insert(partner)
      tidy(site)
    }
    // Claimed files a stopped process left in the inbox (their grace time is over), with the newest job
    // claimed from each name.
    let present = folders.mapValues { Set((try? $0.requestNames()) ?? []) }
    var claims: [String?: [FileName: (created: Timestamp, claim: InboxClaim)]] = [:]
    var cutShort: [Job] = []
    func each(_ job: Job) throws {
      if job.state != .failed {
        do {
          let site = try sites.site(for: job)
          if tidied.insert(job.record.partner).inserted { tidy(site) }
          tidy(site, job: job.id)
        } catch {
          logger.warning("cannot tidy the outbox; going on", metadata: ["error": "\(error)"])
        }
      }
      // (With a shared spool, only the claims this node made from its own inbox.)
      if let claim = job.record.inboxClaim, claim.node == shared?.node,
        present[job.record.partner]?.contains(claim.fileName) == true,
        (claims[job.record.partner]?[claim.fileName]?.created).map({ $0 < job.record.createdAt }) ?? true
      {
        claims[job.record.partner, default: [:]][claim.fileName] = (job.record.createdAt, claim)
      }
      // Moved only once the spool is read: recovery hands each job on as it reads it.
      if job.state == .started && shared == nil {
        cutShort.append(job)
      } else {
        tableLocked(job)
      }
    }
    var recovery = Spool.Recovery()
    if let shared {
      // This node's jobs left started by its previous run were cut short; other nodes' are theirs.
      for job in try shared.reapLapsedLeases(now: .now(), reclaimOwn: true) {
        logger.notice("job was cut short; it will run again", metadata: ["job.id": "\(job.id)"])
      }
      while true {
        let (jobs, _, next) = try shared.changes(after: followed)
        for job in jobs { try each(job) }
        followed = next
        if jobs.isEmpty { break }
      }
    } else {
      recovery = try spool.recover(spoolLock, returningRequestsTo: inbox.directory, each: each)
    }
    let repair = DamagedJobRepair(spool: spool, sites: sites, folders: folders, parser: parser, logger: logger)
    for damaged in recovery.damaged {
      logger.error(
        "status file damaged; moved to the spool's damaged/ folder",
        metadata: ["file": "\(damaged.path)", "error": "\(damaged.reason)"])
      guard let job = try repair.repair(damaged, now: .now()) else {
        logger.error(
          "the damaged job's request and documents are gone; nothing is left to rebuild",
          metadata: ["job.id": "\(damaged.id)"])
        continue
      }
      logger.notice(
        job.state == .pending
          ? "the damaged job was rebuilt from its request; it runs again under its id"
          : "the damaged job was rebuilt as failed", metadata: ["job.id": "\(job.id)", "job.status": "\(job.state.rawValue)"])
      try each(job)
    }
    for id in recovery.requestsRestored {
      logger.error(
        "the job's request copy was missing from the spool; written anew from its status file",
        metadata: ["job.id": "\(id)"])
    }
    for name in recovery.returned {
      logger.notice(
        "a file left in the spool's retiring/ folder was put back into the inbox",
        metadata: ["request.file": "\(name.display)"])
    }
    for (partner, folder) in folders {
      for (name, claim) in claims[partner] ?? [:] {
        if case .newUpload(let kept) = spool.retire(name, from: folder.directory, as: claim.claim) {
          logger.info(
            "a new upload under a claimed name is left to be claimed",
            metadata: ["request.file": "\(kept.display)"])
        }
      }
    }
    for var job in cutShort {
      var (target, record) = JobTransitions.afterCrash(job)
      record.updatedAt = .now()
      job = try spool.move(job, to: target, record: record)
      if target == .failed {
        logger.notice("job was cancelled by its partner before a stop; it is not run again", metadata: ["job.id": "\(job.id)"])
      } else {
        logger.notice("job was cut short; it will run again", metadata: ["job.id": "\(job.id)"])
      }
      tableLocked(job)
    }
    for (partner, _) in sites.opened { markDirty(partner) }
  }

  /// Puts a recovered job in the table and the queues and republishes its documents.
  private func tableLocked(_ job: Job) {
    storeLocked(job)
    if job.state == .pending && shared == nil { pending.insert(job) }
    if !job.state.isFinal { active[job.record.partner, default: 0] += 1 }
    trackKey(of: job)
    publishLocked(job, unlessUnchanged: true)
    markDirty(job.record.partner)
  }

  /// Removes the temp files a killed process left in `site` (in job `id`'s folders, with an id); a site
  /// that cannot be tidied now is left as it is.
  private func tidy(_ site: Outbox, job id: String? = nil) {
    do {
      if let id { try site.removeTemporaryFiles(job: id) } else { try site.removeTemporaryFiles() }
    } catch {
      logger.warning("cannot tidy the outbox; going on", metadata: ["error": "\(error)"])
    }
  }

  /// Writes `job`'s record to the spool where a failure must not undo what was done: it is logged
  /// (naming `what` was being recorded) and the table keeps the change.
  private func saveLocked(_ job: Job, what: String) {
    do {
      try writeLocked(job)
    } catch {
      logger.warning(
        "cannot record \(what) in the spool", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
    }
  }

  /// Puts `job` in the table: whole while it is started, as a ``JobSummary`` while it is pending or once
  /// it has finished.
  private func storeLocked(_ job: Job) {
    retryTimes[job.id] = job.state == .pending ? job.record.retryAt : nil
    if job.state == .pending && shared == nil
      && (pendingRecords[job.id] != nil || pendingRecords.count < JobStore.pendingRecordLimit)
    {
      pendingRecords[job.id] = job.record
    } else {
      pendingRecords[job.id] = nil
    }
    if job.state != .started { runningHere.remove(job.id) }
    if job.state == .started {
      summaries[job.id] = nil
      jobs[job.id] = job
    } else {
      jobs[job.id] = nil
      summaries[job.id] = JobSummary(
        state: job.state, partner: job.record.partner, createdAt: job.record.createdAt,
        retryAt: job.record.retryAt, idempotencyKey: job.record.request?.idempotencyKey)
    }
  }

  /// Writes a job's record in its state, to the shared table or the spool; a write to the shared table
  /// learns whether its partner asked to cancel it.
  private func writeLocked(_ job: Job) throws {
    guard let shared else {
      try spool.update(job)
      if job.state == .pending && pendingRecords[job.id] != nil { pendingRecords[job.id] = job.record }
      return
    }
    do {
      if try shared.update(job) { cancelRequested.insert(job.id) }
    } catch let error as LeaseLost {
      leaseLost.insert(job.id)
      throw error
    }
  }

  /// The job `id`, whole: a pending or finished one is read back from the spool.
  private func lookupLocked(_ id: String) -> Job? {
    if let job = jobs[id] { return job }
    guard let summary = summaries[id] else { return nil }
    if let shared { return try? shared.job(id: id) }
    if summary.state == .pending, let record = pendingRecords[id] {
      return Job(record: record, state: .pending)
    }
    if case .record(let record) = spool.reader.read(Spool.fileName(id), in: spool.folder(summary.state)) {
      return Job(record: record, state: summary.state)
    }
    return spool.reader.job(id: id)
  }

  /// Publishes a job's documents (inside ``withLockPublishingAfter(_:)``: once the lock is released);
  /// one that cannot be written now is remembered and retried by ``republish()``, so a full outbox delays
  /// the documents but never stops a job or the daemon.
  private func publishLocked(_ job: Job, unlessUnchanged: Bool = false) {
    do {
      let publication = try sites.site(for: job).prepare(job, unlessUnchanged: unlessUnchanged)
      if deferredPublications != nil {
        deferredPublications?.append(publication)
      } else {
        try outboxWrites.withLock { try publication.site.write(publication) }
      }
      unpublished.remove(job.id)
    } catch {
      unpublishedLocked(job.id, error)
    }
  }

  /// Remembers a job whose documents could not be written, for ``republish()``.
  private func unpublishedLocked(_ id: String, _ error: any Error) {
    if unpublished.insert(id).inserted {
      logger.warning(
        "cannot publish the job's documents; will retry", metadata: ["job.id": "\(id)", "error": "\(error)"])
    }
  }

  /// Runs `body` under the lock, and writes the documents it publishes after releasing it (in order,
  /// before any later write of the outbox): a burst's commits then hold the lock only for the table,
  /// and the runner and the intake are not kept waiting while documents are written. `beforeWriting` runs
  /// once the lock is released, before the first document is written.
  private func withLockPublishingAfter<T>(_ body: () -> T, beforeWriting: () -> Void = {}) -> T {
    let (value, failed) = lock.withLock(
      { () -> (T, [Outbox.Publication]) in
        deferredPublications = []
        let value = body()
        let publications = deferredPublications ?? []
        deferredPublications = nil
        return (value, publications)
      }, handingOverTo: outboxWrites
    ) { value, publications in
      beforeWriting()
      var failed: [(id: String, error: any Error)] = []
      for publication in publications {
        do {
          try publication.site.write(publication)
        } catch {
          failed.append((publication.id, error))
        }
      }
      return (value, failed)
    }
    if !failed.isEmpty { lock.withLock { for (id, error) in failed { unpublishedLocked(id, error) } } }
    return value
  }

  /// Retries the documents that could not be written; returns how many are still waiting.
  @discardableResult
  public func republish() -> Int {
    let sitesWaiting = sites.writeMissingErrorDocuments()
    return sitesWaiting + lock.withLock {
      for id in unpublished {
        guard let job = lookupLocked(id) else {
          unpublished.remove(id)
          continue
        }
        publishLocked(job)
        markDirty(job.record.partner)
      }
      return unpublished.count
    }
  }

  /// How many of `partner`'s jobs are pending or started now.
  public func activeCount(partner: String?) -> Int { lock.withLock { active[partner] ?? 0 } }

  /// The job with `id`, as the store has it now (a pending or finished one as the spool has it).
  public func job(id: String) -> Job? { lock.withLock { lookupLocked(id) } }

  /// Takes the pending job created first, if any, and moves it to `started` (one attempt more).
  ///
  /// With `durable` off (a job run inside a group commit) the job is started in memory only: nothing is
  /// written or published. Its `started` is written and shown at its first progress update
  /// (``update(_:)``, or the committer's confirmation after ``OutcomeCommitter/confirmMilliseconds``),
  /// and a job that ends sooner goes from `pending` to its outcome at the group's commit. (A process
  /// killed before then leaves it `pending`, one attempt fewer: recovery would have sent a `started`
  /// job back to `pending` anyway.)
  public func startNextPending(durable: Bool = true) throws -> Job? {
    if let shared {
      let now = Timestamp.now()
      let started = try shared.claimNext(now: now) { pending in
        var record = pending
        record.attempts += 1
        record.rows = 0
        record.retryAt = nil
        record.updatedAt = now
        return record
      }
      guard let started else { return nil }
      // As a start inside a group on the file spool: shown at its first progress write, and a job that
      // ends sooner goes from `pending` to its outcome in its documents.
      lock.withLock {
        reconcileLocked(started, publish: durable ? nil : false)
        runningHere.insert(started.id)
      }
      return started
    }
    return try lock.withLock {
      var next: Job?
      var notYet: [String] = []
      let now = Timestamp.now()
      while next == nil, let id = pending.popFirst() {
        guard let summary = summaries[id], summary.state == .pending else { continue }
        if let retryAt = summary.retryAt, retryAt > now {
          notYet.append(id)
        } else if let job = lookupLocked(id), job.state == .pending {
          next = job
        } else {
          // Its status file cannot be read now (an I/O error): it stays pending and is tried again soon.
          logger.warning("cannot read a pending job's status file; will retry", metadata: ["job.id": "\(id)"])
          summaries[id]?.retryAt = now.adding(seconds: 1)
          retryTimes[id] = now.adding(seconds: 1)
          notYet.append(id)
        }
      }
      for id in notYet {
        if let summary = summaries[id] {
          pending.insert(id: id, created: summary.createdAt, partner: summary.partner)
        }
      }
      guard let next else { return nil }
      var record = next.record
      record.attempts += 1
      record.rows = 0
      record.retryAt = nil
      do {
        return try moveLocked(next, to: .started, record: record, durable: durable)
      } catch {
        pending.insert(next)  // still pending: taken again once the spool can be written
        throw error
      }
    }
  }

  /// When the earliest job waiting to retry may start, if any job waits.
  public func nextRetry() -> Timestamp? {
    lock.withLock { retryTimes.values.min() }
  }

  /// Makes `record` a new job in `state` (`pending`, or `failed` with the record's error), keeping `bytes`
  /// as its request. With a shared table, `limit` (its partner's) is checked again by the claim itself,
  /// across every node: a pending claim past it is made `failed`.
  @discardableResult
  public func claim(
    _ record: JobRecord, state: JobState, bytes: [UInt8], limit: PostgresSpool.PartnerLimit? = nil
  ) throws -> Job {
    var record = record
    var state = state
    // A refused request is a failed job: its event is saved before the claim that makes it one.
    let delivery = try events.prepare(&record, to: state)
    // The spool's writes are the new job's own: only the table and the outbox need the lock.
    do {
      if let shared {
        let made = try shared.claim([.init(record: record, state: state, bytes: bytes, limit: limit)])
        if let made = made.first, made.state != state {
          (record, state) = (made.record, made.state)
        }
      } else {
        try spool.claim(record, state: state, bytes: bytes)
      }
    } catch {
      events.drop([delivery])
      throw error
    }
    let (job, refused) = lock.withLock {
      let job = claimLocked(record, state: state)
      return (job, delivery == nil && state == .failed ? refusedByLimitLocked(job) : nil)
    }
    events.announce([delivery ?? refused])
    return job
  }

  /// The webhook event of a claim the shared table refused past its partner's limit (after the claim:
  /// the request looked acceptable here), saved and its job's record updated; call with the lock held.
  private func refusedByLimitLocked(_ job: Job) -> WebhookDelivery? {
    logger.info(
      "request refused by the shared spool: its partner's limit was reached on another node",
      metadata: ["job.id": "\(job.id)", "error": "\(job.record.error ?? "")"])
    var refused = job
    guard
      let delivery = try? events.prepare(&refused.record, to: .failed)
    else { return nil }
    saveLocked(refused, what: "the webhook's status")
    storeLocked(refused)
    publishLocked(refused)
    markDirty(refused.record.partner)
    return delivery
  }

  /// Takes a request into `group` (see ``ClaimGroup``): its files are written as temp files and the job
  /// counts at once for ``activeCount(partner:)`` and ``liveJob(partner:idempotencyKey:)``, but it is
  /// queued and published only by ``commitClaims(_:)``.
  @discardableResult
  public func stageClaim(
    _ record: JobRecord, state: JobState, bytes: [UInt8], limit: PostgresSpool.PartnerLimit? = nil,
    into group: ClaimGroup
  ) throws -> Job {
    var record = record
    let delivery = try events.prepare(&record, to: state)
    do {
      if shared != nil {
        group.rows.append(.init(record: record, state: state, bytes: bytes, limit: limit))
      } else {
        try spool.stageClaim(record, state: state, bytes: bytes, in: &group.writes)
      }
    } catch {
      events.drop([delivery])
      throw error
    }
    let job = Job(record: record, state: state)
    lock.withLock {
      jobs[job.id] = job
      if state == .pending {
        active[record.partner, default: 0] += 1
        trackKey(of: job)
      }
    }
    group.jobs.append((job, delivery))
    return job
  }

  /// Makes a group's claims durable together, then queues and publishes them. On a failure every claim
  /// of the group is undone (its temp files removed, the table as before) and the error thrown: the
  /// requests are still in the inbox.
  ///
  /// `whenQueued` is called once the jobs are queued, before their documents are written (a runner woken
  /// then starts the first job while they are written: their order in the outbox is kept, see
  /// ``withLockPublishingAfter(_:beforeWriting:)``); not called when the commit fails.
  public func commitClaims(_ group: ClaimGroup, whenQueued: () -> Void = {}) throws {
    guard !group.isEmpty else { return }
    defer { group.clear() }
    var made: [String: Job] = [:]
    do {
      if let shared {
        // One transaction: all or none; a claim past its partner's limit comes back failed.
        for job in try shared.claim(group.rows) { made[job.id] = job }
      } else {
        try group.writes.commit()
      }
    } catch {
      group.writes.discard()
      lock.withLock {
        for (job, delivery) in group.jobs {
          // The files a partial commit renamed into place (a shared table's transaction left nothing).
          if shared == nil { try? spool.remove(job.id, in: job.state) }
          jobs[job.id] = nil
          if job.state == .pending {
            active[job.record.partner, default: 1] -= 1
            forgetKey(of: job)
          }
          events.drop([delivery])
        }
      }
      throw error
    }
    let refused = withLockPublishingAfter {
      var refused: [WebhookDelivery] = []
      for (staged, _) in group.jobs {
        // Another node, or this node's follower, may have moved it on already: it never goes back.
        if let state = summaries[staged.id]?.state, state > staged.state { continue }
        var job = jobs[staged.id] ?? staged
        if let made = made[staged.id], made.state == .failed, job.state == .pending {
          // Past its partner's limit, counted across every node by the claim itself.
          job.state = .failed
          job.record.error = made.record.error
          active[job.record.partner, default: 1] -= 1
          forgetKey(of: job)
          storeLocked(job)
          if let delivery = refusedByLimitLocked(job) {
            refused.append(delivery)
            continue
          }
        }
        if job.record.requestAliases != staged.record.requestAliases {
          // Aliases added while it was staged: the commit put the staged record in place.
          saveLocked(job, what: "a request's alias")
        }
        storeLocked(job)
        if job.state == .pending && shared == nil { pending.insert(job) }
        publishLocked(job)
        markDirty(job.record.partner)
      }
      return refused
    } beforeWriting: {
      whenQueued()
    }
    events.announce(group.jobs.map(\.delivery))
    events.announce(refused)
  }

  private func claimLocked(_ record: JobRecord, state: JobState) -> Job {
    let job = Job(record: record, state: state)
    storeLocked(job)
    if state == .pending {
      if shared == nil { pending.insert(job) }
      active[record.partner, default: 0] += 1
      trackKey(of: job)
    }
    publishLocked(job)
    markDirty(record.partner)
    return job
  }

  /// Moves a job to `target` with `record` (durably), then publishes it.
  @discardableResult
  public func move(_ job: Job, to target: JobState, record: JobRecord) throws -> Job {
    try lock.withLock { try moveLocked(job, to: target, record: record) }
  }

  private func moveLocked(_ job: Job, to target: JobState, record: JobRecord, durable: Bool = true) throws
    -> Job
  {
    var record = record
    record.updatedAt = .now()
    let asked = target
    let (target, resolved) = JobTransitions.resolve(jobs[job.id] ?? job, to: target, record: record)
    record = resolved
    if asked == .success && target == .failed { withdrawExportLocked(of: job, record: record) }
    let delivery = try events.prepare(&record, from: job.state, to: target)
    let moved: Job
    do {
      if let shared {
        moved = try shared.move(job, to: target, record: record)
      } else {
        moved = durable ? try spool.move(job, to: target, record: record) : try started(job, record: record)
      }
    } catch {
      events.drop([delivery])
      throw error
    }
    guard durable else {
      storeLocked(moved)  // published once durable
      return moved
    }
    return applyMoveLocked(from: job, to: moved, delivery: delivery)
  }

  /// `job` started in memory only (see ``startNextPending(durable:)``).
  private func started(_ job: Job, record: JobRecord) throws -> Job {
    try spool.check(job, to: .started)
    return Job(record: record, state: .started)
  }

  /// Makes the outcomes of a group of jobs durable together (``Spool/commitMoves(_:alsoFlush:)``), then
  /// publishes them; `alsoFlush` holds their export files, published without a sync. Each record keeps
  /// the request aliases the intake added meanwhile.
  ///
  /// The spool's files are written without the lock (only the committer moves a staged job; an alias
  /// added meanwhile is saved again after), and the documents after it: the lock is held only to
  /// prepare the records and to apply the moves to the table.
  @discardableResult
  public func commitMoves(
    _ moves: [(job: Job, target: JobState, record: JobRecord)], alsoFlush: [UnsyncedFile]
  ) throws -> [Job] {
    if let shared {
      // Under the lock throughout: the table's follower applies this node's moves as it reads them back.
      return try withLockPublishingAfter {
        Result { () throws -> [Job] in
          let (prepared, deliveries) = try prepareMovesLocked(moves)
          do {
            // The export files first, then every outcome in one transaction.
            try GroupWrite.flush(alsoFlush)
            return applyMovesLocked(prepared, try shared.moveAll(prepared), deliveries: deliveries)
          } catch {
            events.drop(deliveries)
            throw error
          }
        }
      }.get()
    }
    let (prepared, deliveries) = try lock.withLock { try prepareMovesLocked(moves) }
    let result = Result { try spool.commitMoves(prepared, alsoFlush: alsoFlush) }
    return try withLockPublishingAfter {
      result.map { moved in
        applyMovesLocked(prepared, moved, deliveries: deliveries)
      }.mapError { error in
        events.drop(deliveries)
        return error
      }
    }.get()
  }

  /// The table, the queues and the outbox after a group's moves (`nil`: a lease lost); call with the
  /// lock held.
  private func applyMovesLocked(
    _ prepared: [(job: Job, target: JobState, record: JobRecord)], _ moved: [Job?],
    deliveries: [WebhookDelivery?]
  ) -> [Job] {
    zip(moved.indices, moved).map { index, job in
      guard var job else {
        // This node lost the job's lease: another node runs it; this outcome is not recorded.
        logger.warning(
          "job's lease lost; another node runs it", metadata: ["job.id": "\(prepared[index].job.id)"])
        events.drop([deliveries[index]])
        leaseLost.insert(prepared[index].job.id)
        return prepared[index].job
      }
      if shared == nil, let stored = jobs[job.id],
        stored.record.requestAliases != job.record.requestAliases
      {
        // The intake added an alias while the spool was written (into the old state's file).
        job.record.requestAliases = stored.record.requestAliases
        saveLocked(job, what: "a request's alias")
        spool.retire(job.id, from: prepared[index].job.state)
      }
      return applyMoveLocked(from: prepared[index].job, to: job, delivery: deliveries[index])
    }
  }


  /// The records of a group's moves as they will be stored, with their webhook events saved.
  private func prepareMovesLocked(_ moves: [(job: Job, target: JobState, record: JobRecord)]) throws -> (
    [(job: Job, target: JobState, record: JobRecord)], [WebhookDelivery?]
  ) {
    var prepared: [(job: Job, target: JobState, record: JobRecord)] = []
    var deliveries: [WebhookDelivery?] = []
    do {
      for (job, asked, record) in moves {
        var record = record
        record.updatedAt = .now()
        if let stored = jobs[job.id] { record.requestAliases = stored.record.requestAliases }
        let (target, resolved) = JobTransitions.resolve(jobs[job.id] ?? job, to: asked, record: record)
        if asked == .success && target == .failed { withdrawExportLocked(of: job, record: record) }
        record = resolved
        deliveries.append(try events.prepare(&record, from: job.state, to: target))
        prepared.append((job, target, record))
      }
    } catch {
      events.drop(deliveries)
      throw error
    }
    return (prepared, deliveries)
  }

  /// Notes the export file of a job whose success became a cancel (``JobTransitions/resolve(_:to:record:)``),
  /// removed once the move is recorded (a group's commit still flushes it).
  private func withdrawExportLocked(of job: Job, record: JobRecord) {
    if let name = record.fileName { withdrawals[job.id] = name }
  }

  /// The table, the queues and the outbox after a durable move; call with the lock held.
  private func applyMoveLocked(from job: Job, to moved: Job, delivery: WebhookDelivery?) -> Job {
    let target = moved.state
    let record = moved.record
    if let name = withdrawals.removeValue(forKey: moved.id), let site = try? sites.site(for: moved) {
      site.withdrawExport(id: moved.id, name: name)
      logger.notice(
        "job cancelled by its partner as it finished; its file is withdrawn", metadata: ["job.id": "\(moved.id)"])
    }
    events.announce([delivery])
    storeLocked(moved)
    if target == .pending && shared == nil { pending.insert(moved) }
    if target.isFinal && !job.state.isFinal {
      active[record.partner, default: 1] -= 1
      cancelRequested.remove(moved.id)
    }
    publishLocked(moved)
    markDirty(record.partner)
    return moved
  }

  /// Stores and publishes a job's record without changing its state (progress).
  public func update(_ job: Job) throws {
    try lock.withLock { try updateLocked(job) }
  }

  private func updateLocked(_ job: Job) throws {
    guard let stored = jobs[job.id], stored.state == job.state else { return }
    var job = job
    job.record.updatedAt = .now()
    job.record.requestAliases = stored.record.requestAliases  // added by the intake meanwhile
    job.record.cancelRequested = stored.record.cancelRequested
    try writeLocked(job)
    jobs[job.id] = job
    publishLocked(job)
    markDirty(job.record.partner)
  }

  /// Cancels `partner`'s job `id`: a pending one fails with ``cancelled`` at once, a started one is marked
  /// for its runner to stop (``isCancelRequested(_:)``); a finished one is left alone. Another partner's
  /// job is no such job.
  public func cancel(id: String, partner: String?) throws -> CancelResult {
    // `tell`: a started job, or one another node started meanwhile, whose runner may be on another node.
    let (result, handler, tell): (CancelResult, (@Sendable (String) -> Void)?, Bool) = try lock.withLock {
      let job: Job
      if let summary = summaries[id] {
        guard summary.partner == partner else { return (.noSuchJob, nil, false) }
        if summary.state.isFinal { return (.alreadyFinished, nil, false) }
        guard let pending = lookupLocked(id) else { return (.noSuchJob, nil, false) }
        job = pending
      } else {
        guard let started = jobs[id], started.record.partner == partner else {
          return (.noSuchJob, nil, false)
        }
        job = started
      }
      switch job.state {
      case .success, .failed:
        return (.alreadyFinished, nil, false)
      case .pending:
        var record = job.record
        record.error = JobStore.cancelled
        record.rows = nil
        record.retryAt = nil
        do {
          _ = try moveLocked(job, to: .failed, record: record)
        } catch is LeaseLost {
          // Another node started it meanwhile: its runner is asked to stop it.
          return (.cancelled, nil, true)
        }
        return (.cancelled, nil, false)
      case .started:
        // On disk before the answer: a stop from here on fails the job instead of running it again.
        var marked = job
        marked.record.cancelRequested = true
        if shared == nil {
          try spool.update(marked)
          pendingRecords[id] = nil
        }
        jobs[id] = marked
        cancelRequested.insert(id)
        return (.cancelled, cancelHandler, true)
      }
    }
    // Outside the lock: interrupting a PostgreSQL query is a round trip to the server. With a shared
    // table the node running the job learns it from the table's changes.
    if tell, let shared { try shared.requestCancel(id: id) }
    handler?(id)
    return result
  }

  /// Writes `partner`'s `requests/<name>` for a cancel request (see ``Outbox/publishCancel(requestFile:jobID:result:)``).
  public func publishCancel(partner: String?, requestFile name: String, jobID: String, result: CancelResult)
    throws
  {
    try lock.withLock {
      try outboxWrites.withLock {
        try sites.open(partner: partner).publishCancel(
          requestFile: name, jobID: jobID, result: result.rawValue)
      }
    }
  }

  /// Calls `handler` with a started job's id when its partner cancels it (the runner interrupts the
  /// job's query).
  public func onCancel(_ handler: @escaping @Sendable (String) -> Void) {
    lock.withLock { cancelHandler = handler }
  }

  /// Whether this node lost the lease of its started job `id` (``PostgresSpool``): its runner abandons it.
  public func hasLostLease(_ id: String) -> Bool { lock.withLock { leaseLost.contains(id) } }

  /// Whether the started job `id` was cancelled by its partner.
  public func isCancelRequested(_ id: String) -> Bool { lock.withLock { cancelRequested.contains(id) } }

  /// The job of `partner` that idempotency key `key` names while it is published (pending, started, or
  /// finished and not yet expired), if any.
  public func keyedJob(partner: String?, idempotencyKey key: String) -> Job? {
    lock.withLock { keys[IdempotencyKey(partner: partner, key: key)].flatMap { lookupLocked($0) } }
  }

  /// Makes the request file `name` show `job` in `requests/` (a request with its idempotency key),
  /// durably: the name is kept in the job's record and its documents are republished.
  public func addAlias(_ name: String, to job: Job) throws -> Job {
    try lock.withLock {
      guard var current = lookupLocked(job.id) else { return job }
      if current.record.requestAliases?.contains(name) != true {
        current.record.requestAliases = (current.record.requestAliases ?? []) + [name]
        try writeLocked(current)
        if jobs[current.id] != nil { jobs[current.id] = current }  // started, or a claim being staged
      }
      publishLocked(current)
      return current
    }
  }

  // MARK: A shared table

  /// Applies the shared table's changes since the last one applied (other nodes' claims and moves, leases
  /// reaped): the table and the queues follow them, and, on the node that renders the index, the
  /// documents. Returns whether a job became
  /// pending (runners should look).
  @discardableResult
  public func follow() throws -> Bool {
    guard let shared else { return false }
    var pendingSeen = false
    while true {
      let after = lock.withLock { followed }
      let (jobs, cancelled, next) = try shared.changes(after: after)
      let (stop, handler) = lock.withLock {
        for job in jobs {
          if job.state == .pending { pendingSeen = true }
          reconcileLocked(job)
        }
        followed = next
        // A cancel another node took for a job running here: its query is interrupted now.
        let stop = cancelled.filter {
          self.jobs[$0]?.state == .started && cancelRequested.insert($0).inserted
        }
        // Its outcome is then recorded as cancelled (``JobTransitions/resolve(_:to:record:)``).
        for id in stop { self.jobs[id]?.record.cancelRequested = true }
        return (stop, cancelHandler)
      }
      for id in stop { handler?(id) }
      if jobs.isEmpty { return pendingSeen }
    }
  }

  /// Takes the shared table's index lock when no other node holds it: only its holder renders the index
  /// (``publishIndex(force:)``) and keeps every job's documents (the others keep their own jobs'). A node
  /// that becomes the holder first publishes every job's documents as the table has them, then renders
  /// every site. Returns whether this node renders the index now (always, without a shared table).
  @discardableResult
  public func checkIndexLock() throws -> Bool {
    guard let shared else { return true }
    guard shared.holdsIndexLock() else {
      lock.withLock { rendersIndex = false }
      return false
    }
    if lock.withLock({ rendersIndex }) { return true }
    var position = PostgresSpool.FeedPosition.start
    while true {
      let (jobs, _, next) = try shared.changes(after: position)
      if jobs.isEmpty { break }
      lock.withLock { for job in jobs { reconcileLocked(job, publish: true) } }
      position = next
    }
    lock.withLock {
      logger.info("this node renders the index now")
      rendersIndex = true
      for (partner, _) in sites.opened { markDirty(partner) }
    }
    return true
  }

  /// Sends back to `pending` the shared table's jobs whose lease lapsed (their node died); returns how
  /// many.
  @discardableResult
  public func reapLapsedLeases() throws -> Int {
    guard let shared else { return 0 }
    let reaped = try shared.reapLapsedLeases(now: .now())
    for job in reaped {
      logger.notice("a node's lease on the job lapsed; it will run again", metadata: ["job.id": "\(job.id)"])
    }
    lock.withLock { for job in reaped { reconcileLocked(job) } }
    return reaped.count
  }

  /// Puts a job as the shared table has it now into this table: counts, keys and documents follow its
  /// state. A finished job never goes back (a change read before this node's own later one).
  /// `publish`: whether to publish its documents (`nil`: if this node renders the index).
  private func reconcileLocked(_ job: Job, publish: Bool? = nil) {
    // This node's own start, read back: the table here is as new (its progress may be newer).
    if job.state == .started && runningHere.contains(job.id) { return }
    let previous = jobs[job.id]?.state ?? summaries[job.id]?.state
    if let previous, previous.isFinal, !job.state.isFinal { return }
    let wasLive = previous.map { !$0.isFinal } ?? false
    storeLocked(job)
    if !job.state.isFinal && !wasLive {
      active[job.record.partner, default: 0] += 1
    } else if job.state.isFinal && wasLive {
      active[job.record.partner, default: 1] -= 1
      cancelRequested.remove(job.id)
      leaseLost.remove(job.id)
    }
    trackKey(of: job)
    // Another node's change is published here only by the node that renders the index (the others
    // keep their own jobs' documents, written as they change them).
    guard publish ?? rendersIndex else { return }
    publishLocked(job, unlessUnchanged: true)
    markDirty(job.record.partner)
  }

  /// Remembers the job an idempotency key names; call with the lock held. A key names the first job
  /// made with it (``JobTransitions/holdsKey(_:)``): a later one refused for it never takes it over.
  private func trackKey(of job: Job) {
    guard let key = job.record.request?.idempotencyKey else { return }
    let slot = IdempotencyKey(partner: job.record.partner, key: key)
    guard JobTransitions.holdsKey(job) else {
      if keys[slot] == job.id { keys[slot] = nil }
      return
    }
    if let holder = keys[slot], holder != job.id,
      let created = jobs[holder]?.record.createdAt ?? summaries[holder]?.createdAt, created <= job.record.createdAt
    {
      return
    }
    keys[slot] = job.id
  }

  /// Forgets the key of a job that no longer holds it (a claim undone or refused, an expired job).
  private func forgetKey(of job: Job) {
    guard let key = job.record.request?.idempotencyKey else { return }
    let slot = IdempotencyKey(partner: job.record.partner, key: key)
    if keys[slot] == job.id { keys[slot] = nil }
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
    events.pending { id in lock.withLock { summaries[id]?.state } }
  }

  /// Records where a job's webhook event stands (`meta.webhook`), durably, without touching the job's
  /// `updated_at`; nothing for a job that has expired meanwhile.
  public func recordWebhook(_ status: WebhookStatus, jobID: String) {
    lock.withLock {
      guard var job = lookupLocked(jobID) else { return }
      job.record.webhook = status
      saveLocked(job, what: "the webhook's status")
      storeLocked(job)
      publishLocked(job)
      markDirty(job.record.partner)
    }
  }

  /// Removes finished jobs created more than the outbox's TTL before `now`; returns how many.
  @discardableResult
  public func expire(now: Timestamp) throws -> Int {
    try lock.withLock { try expireLocked(now: now) }
  }

  private func expireLocked(now: Timestamp) throws -> Int {
    let cutoff = now.adding(seconds: -sites.ttl)
    var removed = 0
    for (id, job) in summaries where job.state.isFinal && job.createdAt <= cutoff {
      do {
        try outboxWrites.withLock {
          try sites.open(partner: job.partner).remove(id: id, created: job.createdAt)
        }
        CrashPoint.reached("mid-expiry")
        if let shared { try shared.remove(id) } else { try spool.remove(id, in: job.state) }
      } catch {
        // Tried again at the next sweep; the job stays listed until then.
        logger.warning("cannot expire the job yet", metadata: ["job.id": "\(id)", "error": "\(error)"])
        continue
      }
      summaries[id] = nil
      if let key = job.idempotencyKey, keys[IdempotencyKey(partner: job.partner, key: key)] == id {
        keys[IdempotencyKey(partner: job.partner, key: key)] = nil
      }
      unpublished.remove(id)
      markDirty(job.partner)
      removed += 1
      logger.info("job expired", metadata: ["job.id": "\(id)"])
    }
    return removed
  }

  /// Marks `partner`'s index out of date; call with the lock held.
  private func markDirty(_ partner: String?) { index.markDirty(partner) }

  /// Calls `handler` (from the thread that changed a job, so it must be quick) whenever an index goes out
  /// of date: the outbox renderer wakes on it instead of polling.
  public func onIndexChange(_ handler: @escaping @Sendable () -> Void) { index.onChange(handler) }

  /// When the next index render may run (monotonic milliseconds), or `nil` when every index is current.
  public func nextIndexRender() -> Int64? { index.nextRender }

  /// Marks `partner`'s site for an index render (a new partner's site gets an empty index at once).
  public func touchSite(partner: String?) { index.markDirty(partner) }

  /// Renders the `index.json` of every site where anything changed, when ``IndexRenderer`` allows (or
  /// `force`). Each document is assembled under the lock and written outside it, after the documents
  /// prepared before it.
  public func publishIndex(force: Bool = false) throws {
    if shared != nil && !lock.withLock({ rendersIndex }) {
      index.clear()  // another node renders the index
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
            documents.append((partner, site, site.indexDocuments { id in self.lookupLocked(id).map(JobPage.row) }))
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
}
