import JobdropCrypto
import JobdropExport
import JobdropModel
import JobdropSystem
import Logging

/// Takes requests from the inbox into the store: reads each safely, parses it, and claims it as a job.
///
/// A request is judged once its writer is done: one still being written is not looked at; one whose
/// writer closed it (or that was renamed in) is judged as it is, so a cut-short one fails at once; one
/// the watcher knows nothing about (a scan at start) fails as cut short only once it has been unchanged for
/// the settle time. Anything that is not a regular file is refused and left alone, logged once.
///
/// A claimed request file stays in the inbox for ``graceMilliseconds`` (a client may stat it or set its
/// time right after its upload) and is then deleted, if it is still the file and the bytes that were
/// claimed. Anything else under its name meanwhile is a new upload and a new job; the same bytes uploaded
/// again under the name within the grace time are the same request (a client retrying its upload).
// @unchecked: its mutable state (`refused`, `delayed`, `claims`) is used by one thread only, the intake's:
// a Mutex would guard nothing.
public final class RequestIntake: @unchecked Sendable {
  package let inbox: Inbox
  let store: JobStore
  let parser: RequestParser
  let settleMilliseconds: Int64
  /// How long a claimed request file stays in the inbox.
  public let graceMilliseconds: Int64
  /// The partner whose drop folder this is (`inbox/<partner>/`), or `nil` without `--partners`.
  public let partner: String?
  /// The partners in force: a request is checked against its partner's enabled job types and limit.
  let partners: PartnerRegistry?
  /// The standing requests: a request with a `schedule` registers one instead of making a job.
  let schedules: Schedules?
  let logger: Logger
  /// Requests found cut short right after their writer closed them, and when: judged once they have been
  /// quiet a moment (the close event may be read after the next upload of the name began).
  private var cutShortAfterClose: [FileName: Int64] = [:]
  /// How long a request found cut short after its close must stay unchanged before it fails.
  static let afterCloseMilliseconds: Int64 = 250
  /// Claimed files still in the inbox, and when each is to be taken away.
  private var claims: [FileName: (claim: InboxClaim, retireAt: Int64)] = [:]
  private var refused = Set<FileName>()
  /// Requests whose read or claim failed and wait to be tried again (warned about once).
  private var delayed = Set<FileName>()

  public init(
    inbox: Inbox, store: JobStore, parser: RequestParser, settleMilliseconds: Int64,
    graceMilliseconds: Int64 = 0, partner: String? = nil, partners: PartnerRegistry? = nil,
    schedules: Schedules? = nil, logger: Logger
  ) {
    self.schedules = schedules
    self.partner = partner
    self.partners = partners
    self.inbox = inbox
    self.store = store
    self.parser = parser
    self.settleMilliseconds = settleMilliseconds
    self.graceMilliseconds = graceMilliseconds
    self.logger = logger
  }

  /// What one pass over the inbox did.
  public struct Pass: Sendable {
    /// Jobs created.
    public var claimed: [Job] = []
    /// Requests left waiting (cut short, still settling) and when to look at each again.
    public var waiting: [FileName: Timestamp] = [:]
    /// Claimed files in their grace time, and when each is to be taken away.
    public var retiring: [FileName: Timestamp] = [:]

    public init() {}

    /// The earliest time a waiting request should be looked at again.
    public var retryAt: Timestamp? { waiting.values.min() }
  }

  /// Looks at every request in the inbox once. Throws only when the inbox itself cannot be listed.
  public func scan(group: ClaimGroup? = nil) throws(FileSystemError) -> Pass {
    var pass = Pass()
    for name in try inbox.requestNames() {
      take(name, into: &pass, group: group)
      if let group, group.isDue { RequestIntake.commit(group, store: store, into: &pass) }
    }
    return pass
  }

  /// Commits a group of claims (``JobStore/commitClaims(_:)``); if that fails, each claim is undone by the
  /// intake that took it (its request stays in the inbox) and reported in `pass`. Returns whether the
  /// claims were committed; `whenQueued` is called as soon as their jobs can run (before their documents
  /// are written).
  @discardableResult
  public static func commit(
    _ group: ClaimGroup, store: JobStore, into pass: inout Pass, whenQueued: () -> Void = {}
  ) -> Bool {
    let takers = group.takers
    do {
      try store.commitClaims(group) {
        // Logged once durable (a claim whose commit fails makes no job), before the jobs can start.
        for (intake, _, job) in takers { intake.logClaim(job) }
        whenQueued()
      }
      return true
    } catch {
      for (intake, name, _) in takers { intake.claimFailed(name, because: error, into: &pass) }
      return false
    }
  }

  /// What is known of a request's writer, from the watcher's events.
  public enum Writer: Sendable {
    /// Nothing (a scan): a cut-short request is judged once it has been quiet for the settle time.
    case unknown
    /// A writer is at work on it: it is not judged at all until the writer closes it.
    case writing
    /// Its writer closed it, or it was renamed in: what it holds now is final.
    case done
  }

  /// How long a request whose claim failed (a full or failing disk) waits before it is tried again.
  public static let claimRetryMilliseconds: Int64 = 1000

  /// Looks at one inbox entry; ignores names that are not requests.
  ///
  /// Never throws: whatever a partner does to the entry meanwhile (delete, rename, replace, truncate, turn
  /// it into a directory) means the request is gone or will be seen again, and a claim the disk refuses
  /// (`ENOSPC`, `EIO`) is retried after ``claimRetryMilliseconds``: the request stays in the inbox.
  ///
  /// With a `group`, a new job's claim is staged in it (see ``ClaimGroup``): the caller commits the group
  /// (``JobStore/commitClaims(_:)``) before it looks at the request again, and tells this intake of a
  /// failed commit (``claimFailed(_:into:)``). The claimed file is then taken away at its next look after
  /// its grace time, as always.
  public func take(
    _ name: FileName, into pass: inout Pass, writer: Writer = .unknown, group: ClaimGroup? = nil
  ) {
    guard InboxEntryKind(name) == .request, writer != .writing else { return }
    // A partner no longer in the partners file: its inbox is not read any more.
    if let partner, partners?.partner(id: partner) == nil { return }
    let now = store.clock.now()
    let content: Inbox.Content
    do {
      content = try inbox.read(name)
    } catch {
      retryLater(name, because: "cannot read the request", error, into: &pass)
      return
    }
    var record = JobRecord(
      id: JobID.make(), requestFile: name.display, jobType: "", request: nil, createdAt: now,
      partner: partner)
    let pin: PinnedFile
    var kept: [UInt8] = []
    var sha256: String?
    switch content {
    case .gone:
      claims[name] = nil
      cutShortAfterClose[name] = nil
      return
    case .refused(let kind):
      if refused.insert(name).inserted {
        logger.warning(
          "not a regular file; left in the inbox",
          metadata: ["request.file": "\(name.display)", "file.kind": "\(kind)"])
      }
      return
    case .unreadable(let unreadable):
      pin = unreadable
      if isClaimed(name, identity: pin.identity, sha256: nil) {
        settleClaim(name, into: &pass)
        return
      }
      let mode = String(unreadable.status.st_mode & 0o7777, radix: 8)
      record.error =
        "request file is not readable by the service (mode 0\(mode), owner uid \(unreadable.status.st_uid)); "
        + "upload it readable by the service's group, e.g. mode 0640"
    case .file(let bytes, let changedAt, let readable):
      pin = readable
      kept = bytes
      sha256 = SHA256Digest.hex(of: bytes)
      if isClaimed(name, identity: pin.identity, sha256: sha256) {
        settleClaim(name, into: &pass)
        return
      }
      do {
        guard let fileName = name.utf8String else {
          throw RequestError("request file name is not valid UTF-8: '\(name.display)'")
        }
        if fileName.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
          throw RequestError("request file name contains control characters: '\(name.display)'")
        }
        if let target = try RequestParser.cancelTarget(in: bytes) {
          answer(name, pin: pin, sha256: sha256, into: &pass) {
            // A schedule's id ends the schedule; any other id is a job's.
            let result =
              try schedules?.end(id: target, partner: partner) ?? store.cancel(id: target, partner: partner)
            try store.publishCancel(partner: partner, requestFile: fileName, jobID: target, result: result)
            logger.info(
              "cancel request",
              metadata: [
                "request.file": "\(fileName)", "job.id": "\(target)", "result": "\(result.rawValue)",
              ])
          }
          return
        }
        let request = try parser.read(bytes)
        record.request = request
        record.jobType = request.jobType
        try parser.validate(request)
        if request.schedule != nil {
          guard let schedules else {
            throw RequestError("schedule: standing requests are made by `jobdrop run`, not by this command")
          }
          try checkPartner(request, scheduled: true)
          try schedules.checkLimit(name: fileName, partner: partner)
          answer(name, pin: pin, sha256: sha256, into: &pass) {
            let registration = try schedules.register(
              name: fileName, partner: partner, bytes: bytes, request: request)
            logger.info(
              "standing request registered",
              metadata: [
                "request.file": "\(fileName)",
                "schedule.id": "\(ScheduleRecord.id(partner: partner, name: fileName))",
                "result": "\(registration)",
              ])
          }
          return
        }
        if let key = request.idempotencyKey, let keyed = store.keyedJob(partner: partner, idempotencyKey: key)
        {
          if let conflict = JobTransitions.keyConflict(request, with: keyed) { throw RequestError(conflict) }
          answer(name, pin: pin, sha256: sha256, into: &pass) {
            _ = try store.addAlias(fileName, to: keyed)
            logger.info(
              "request repeats the idempotency key of a published job; no new job",
              metadata: ["request.file": "\(fileName)", "job.id": "\(keyed.id)"])
          }
          return
        }
        try checkPartner(request)
      } catch let error as RequestError {
        // Cut short with its writer done is cut short for good; otherwise it may be an upload still under
        // way that gives no events (a scan at start): it gets the settle time.
        if error.isTruncated {
          let quiet = now.milliseconds - changedAt.milliseconds
          if writer == .done && cutShortAfterClose[name] == nil {
            cutShortAfterClose[name] = now.milliseconds
          }
          let wait =
            cutShortAfterClose[name] != nil ? RequestIntake.afterCloseMilliseconds : settleMilliseconds
          if quiet < wait || (writer == .done && quiet < RequestIntake.afterCloseMilliseconds) {
            pass.waiting[name] = Timestamp(milliseconds: max(now.milliseconds, changedAt.milliseconds) + wait)
            return
          }
        }
        record.error = error.message
      } catch {
        logger.error(
          "cannot read the request", metadata: ["request.file": "\(name.display)", "error": "\(error)"])
        record.error = "the request could not be read: internal error (see the service's log)"
      }
    }
    refused.remove(name)
    cutShortAfterClose[name] = nil
    let state: JobState = record.error == nil ? .pending : .failed
    record.inboxClaim = InboxClaim(
      jobID: record.id, name: name, identity: pin.identity, sha256: sha256, node: store.backend.node)
    let job: Job
    do {
      if let group {
        job = try store.stageClaim(record, state: state, bytes: kept, limit: partnerLimit, into: group)
        group.taken(by: self, name: name, job: job)
      } else {
        job = try store.claim(record, state: state, bytes: kept, limit: partnerLimit)
      }
    } catch {
      retryLater(name, because: "cannot claim the request", error, into: &pass)
      return
    }
    claims[name] = (record.inboxClaim!, store.clock.monotonicMilliseconds() + graceMilliseconds)
    if group == nil {
      settleClaim(name, into: &pass)
    } else {
      // Not taken away before the group's commit: looked at again once its grace time is over.
      pass.retiring[name] = Timestamp(milliseconds: store.clock.now().milliseconds + graceMilliseconds)
    }
    delayed.remove(name)
    pass.claimed.append(job)
    if group == nil { logClaim(job) }
  }

  /// Logs a job made from a request (once its claim is durable).
  func logClaim(_ job: Job) {
    let record = job.record
    logger.info(
      job.state == .pending ? "request claimed" : "request refused",
      metadata: [
        "job.id": "\(job.id)", "job.type": "\(record.jobType)", "request.file": "\(record.requestFile)",
        "job.status": "\(job.state.rawValue)",
      ].merging(record.error.map { ["error": "\($0)"] } ?? [:]) { $1 }.merging(
        partner.map { ["partner": "\($0)"] } ?? [:]
      ) { $1 })
  }

  /// Claims a request that creates no job (a cancel, a repeat of a live job's idempotency key): `act`
  /// does what it asks and writes its `requests/` document; the file then stays its grace time and is
  /// taken away like any claimed file. If `act` fails (a full disk), the file stays to be tried again.
  private func answer(
    _ name: FileName, pin: PinnedFile, sha256: String?, into pass: inout Pass, act: () throws -> Void
  ) {
    do {
      try act()
    } catch {
      retryLater(name, because: "cannot answer the request", error, into: &pass)
      return
    }
    refused.remove(name)
    cutShortAfterClose[name] = nil
    delayed.remove(name)
    let claim = InboxClaim(jobID: JobID.make(), name: name, identity: pin.identity, sha256: sha256)
    claims[name] = (claim, store.clock.monotonicMilliseconds() + graceMilliseconds)
    settleClaim(name, into: &pass)
    CrashPoint.reached("request-answered")
  }

  /// Refuses a request its partner may not make: a job type not enabled for it, or one past its limit of
  /// jobs in progress.
  private func checkPartner(_ request: ExportRequest, scheduled: Bool = false) throws(RequestError) {
    guard let id = partner, let current = partners?.partner(id: id) else { return }
    if case .notEnabled(let message) = current.access(to: request.jobType) { throw RequestError(message) }
    if !scheduled, let limit = partnerLimit, store.activeCount(partner: id) >= limit.maximum {
      throw RequestError(limit.error)
    }
  }

  /// This intake's partner's limit of jobs in progress, as the partners file in force says now (a shared
  /// table checks it again as it claims, across every node).
  private var partnerLimit: PostgresSpool.PartnerLimit? {
    guard let id = partner, let current = partners?.partner(id: id) else { return nil }
    return PostgresSpool.PartnerLimit(
      maximum: current.maximumPending,
      error: "too many jobs in progress for partner '\(id)' (limit \(current.maximumPending))")
  }

  /// Whether `name` is a claimed file in its grace time: the same file with the same bytes.
  private func isClaimed(_ name: FileName, identity: FileIdentity, sha256: String?) -> Bool {
    guard let claim = claims[name]?.claim else { return false }
    return claim.identity == identity && claim.sha256 == sha256
  }

  /// Takes a claimed file away once its grace time is over, or says when to look again.
  private func settleClaim(_ name: FileName, into pass: inout Pass) {
    guard let (claim, retireAt) = claims[name] else { return }
    let now = store.clock.monotonicMilliseconds()
    if now < retireAt {
      pass.retiring[name] = Timestamp(milliseconds: store.clock.now().milliseconds + retireAt - now)
      return
    }
    claims[name] = nil
    if case .newUpload(let kept) = store.spool.retire(name, from: inbox.directory, as: claim) {
      pass.waiting[kept] = store.clock.now()
    }
  }

  /// Takes every claimed file away now, grace time or not (a batch run's end, a shutdown); returns the
  /// names of new uploads found under claimed names, left in the inbox.
  @discardableResult
  public func retireAll() -> [FileName] {
    var found: [FileName] = []
    for (name, entry) in claims {
      if case .newUpload(let kept) = store.spool.retire(name, from: inbox.directory, as: entry.claim) {
        found.append(kept)
      }
    }
    claims.removeAll()
    return found
  }

  /// Undoes a claim whose group's commit failed: the request stays in the inbox and is tried again soon.
  public func claimFailed(_ name: FileName, because error: any Error, into pass: inout Pass) {
    claims[name] = nil
    pass.retiring[name] = nil
    pass.claimed.removeAll { $0.record.inboxClaim?.fileName == name }
    retryLater(name, because: "cannot claim the request", error, into: &pass)
  }

  /// Leaves `name` in the inbox to be tried again soon; warns once per name until it is claimed.
  private func retryLater(_ name: FileName, because what: String, _ error: any Error, into pass: inout Pass) {
    if delayed.insert(name).inserted {
      logger.warning(
        "\(what); it stays in the inbox and is tried again",
        metadata: ["request.file": "\(name.display)", "error": "\(error)"])
    }
    pass.waiting[name] = Timestamp(
      milliseconds: store.clock.now().milliseconds + RequestIntake.claimRetryMilliseconds)
  }
}
