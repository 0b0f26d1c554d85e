import JobdropModel
import JobdropSystem
import Logging
import Synchronization

/// The standing requests: kept in the spool (``ScheduleFolder``), published in the outbox
/// (``ScheduleDocument``), and turned into runs when their times come.
///
/// A run is an ordinary job of the partner whose id is derived from the schedule and the time it was
/// made for (``ScheduleRecord/runID(schedule:at:)``). The schedule's record names its live run before
/// the job is claimed: a crash between the two is finished by the next look (``reconcile``), which
/// claims that same id; a crash after both finds the job. At most one run is live at a time, and a
/// window starts where the last successful run's ended, so windows never overlap and leave no gap.
///
/// One lock orders every change of a schedule; the store's lock is taken inside it, never the other way.
public final class Schedules: Sendable {
  public let store: JobStore
  let folder: ScheduleFolder
  let parser: RequestParser
  let partners: PartnerRegistry?
  let logger: Logger
  private let state = Mutex<[String: Entry]>([:])
  private let changeHandler = Mutex<(@Sendable () -> Void)?>(nil)

  /// Calls `handler` (quickly: it must only wake a thread) when a schedule is registered or ended.
  public func onChange(_ handler: @escaping @Sendable () -> Void) { changeHandler.withLock { $0 = handler } }

  /// A schedule as the service holds it: its record and its request, parsed.
  struct Entry: Sendable {
    var record: ScheduleRecord
    var request: ExportRequest
    var spec: ScheduleSpec { request.schedule! }
  }

  /// What a request dropped with a `schedule` did.
  public enum Registration: Sendable, Equatable, CustomStringConvertible {
    case created(ScheduleRecord)
    case replaced(ScheduleRecord, keptWindow: Bool)

    public var description: String {
      switch self {
      case .created: "created"
      case .replaced(_, let kept): kept ? "replaced, window kept" : "replaced, window started again"
      }
    }
  }

  public init(
    store: JobStore, parser: RequestParser, partners: PartnerRegistry? = nil, logger: Logger
  ) throws {
    self.store = store
    self.folder = try ScheduleFolder(spool: store.spool)
    self.parser = parser
    self.partners = partners
    self.logger = logger
  }

  // MARK: Start

  /// Reads every schedule back from the spool, settles each one's live run (``reconcile``) and
  /// publishes them. A schedule whose request no longer reads (a catalog changed) is logged and left.
  public func load() {
    let (records, damaged) = folder.all()
    for name in damaged {
      logger.error(
        "a schedule's file in the spool cannot be read; it is left as it is", metadata: ["file": "\(name)"])
    }
    state.withLock { entries in
      for record in records {
        do {
          let request = try parser.read(Array(record.request.utf8))
          try parser.validate(request)
          guard request.schedule != nil else { throw RequestError("schedule: missing") }
          entries[record.id] = Entry(record: record, request: request)
        } catch {
          logger.error(
            "a schedule's request no longer reads; it makes no runs",
            metadata: ["schedule.id": "\(record.id)", "error": "\(error)"])
        }
      }
      var claimed = 0
      for id in entries.keys { reconcile(id, in: &entries, now: store.clock.now(), claimed: &claimed) }
    }
    publishAll()
  }

  // MARK: Requests

  /// Makes or replaces the schedule of `partner`'s request file `name` (its text `bytes`, already
  /// parsed and validated as `request`). A replacement keeps its window position when the job type, the
  /// window's field and the filter are unchanged. Throws a ``RequestError`` past the partner's
  /// `max_schedules`, or what the spool's write throws.
  public func register(name: String, partner: String?, bytes: [UInt8], request: ExportRequest) throws
    -> Registration
  {
    let now = store.clock.now()
    let id = ScheduleRecord.id(partner: partner, name: name)
    let registration: Registration = try state.withLock { entries in
      let old = entries[id]
      if old == nil, let partner, let limit = partners?.partner(id: partner)?.maximumSchedules {
        let count = entries.values.filter { $0.record.partner == partner }.count
        if count >= limit {
          throw RequestError("too many schedules for partner '\(partner)' (limit \(limit))")
        }
      }
      var record = ScheduleRecord(
        id: id, name: name, partner: partner, request: String(decoding: bytes, as: UTF8.self), createdAt: now)
      var keptWindow = false
      if let old {
        record.createdAt = old.record.createdAt
        record.live = old.record.live
        record.last = old.record.last
        if old.request.jobType == request.jobType && old.request.filter == request.filter
          && old.request.window?.field == request.window?.field
        {
          record.windowEnd = old.record.windowEnd
          keptWindow = true
        }
      }
      record.updatedAt = now
      record.nextRunAt = request.schedule!.next(after: now, created: record.createdAt)
      try folder.save(record)
      entries[id] = Entry(record: record, request: request)
      return old == nil ? .created(record) : .replaced(record, keptWindow: keptWindow)
    }
    changeHandler.withLock { $0 }?()
    publish([id])
    return registration
  }

  /// Throws when `partner` has as many schedules as its `max_schedules` and `name` is not one of them.
  public func checkLimit(name: String, partner: String?) throws(RequestError) {
    guard let partner, let limit = partners?.partner(id: partner)?.maximumSchedules else { return }
    let id = ScheduleRecord.id(partner: partner, name: name)
    let count = state.withLock { entries in
      entries[id] != nil ? -1 : entries.values.filter { $0.record.partner == partner }.count
    }
    if count >= limit { throw RequestError("too many schedules for partner '\(partner)' (limit \(limit))") }
  }

  /// Ends `partner`'s schedule `id` (a cancel request naming it); `nil` when it is no schedule of theirs.
  /// Its live run, if any, goes on as an ordinary job.
  public func end(id: String, partner: String?) throws -> JobStore.CancelResult? {
    let ended: ScheduleRecord? = try state.withLock { entries in
      guard let entry = entries[id], entry.record.partner == partner else { return nil }
      try folder.remove(id)
      entries[id] = nil
      return entry.record
    }
    guard let ended else { return nil }
    changeHandler.withLock { $0 }?()
    try store.withdrawSchedule(ended)
    publishAll()
    logger.info(
      "schedule ended by its partner", metadata: ["schedule.id": "\(id)", "request.file": "\(ended.name)"])
    return .cancelled
  }

  // MARK: Runs

  /// When the earliest schedule is due, if any.
  public var nextDue: Timestamp? { state.withLock { $0.values.compactMap(\.record.nextRunAt).min() } }

  /// Makes the runs that are due (one a schedule, however many of its times passed: a catch-up covers
  /// them all) and settles finished ones. Returns how many jobs it claimed (the runners have work).
  @discardableResult
  public func runDue() -> Int {
    let now = store.clock.now()
    let (made, changed) = state.withLock { entries in
      var claimed = 0
      var changed = Set<String>()
      for id in entries.keys.sorted() {
        if reconcile(id, in: &entries, now: now, claimed: &claimed) { changed.insert(id) }
        guard let entry = entries[id], let due = entry.record.nextRunAt, due <= now else { continue }
        if makeRun(id, at: due, in: &entries, now: now) { claimed += 1 }
        changed.insert(id)
      }
      return (claimed, changed)
    }
    if !changed.isEmpty { publish(changed) }
    return made
  }

  /// Settles every schedule's live run that finished (a run's job moved to `success` or `failed`).
  public func settleFinishedRuns() {
    let now = store.clock.now()
    let changed = state.withLock { entries in
      var changed = Set<String>()
      var claimed = 0
      for id in entries.keys where entries[id]?.record.live != nil {
        if reconcile(id, in: &entries, now: now, claimed: &claimed) { changed.insert(id) }
      }
      return changed
    }
    if !changed.isEmpty { publish(changed) }
  }

  /// Brings schedule `id`'s record up to date with its live run: a finished run becomes its last one
  /// (a success moves the window's end), a run whose job was never claimed (a crash between the record
  /// and the claim) is claimed now. Returns whether the record changed.
  @discardableResult
  private func reconcile(
    _ id: String, in entries: inout [String: Entry], now: Timestamp, claimed: inout Int
  ) -> Bool {
    guard var entry = entries[id], let live = entry.record.live else { return false }
    guard let job = store.job(id: live.jobID) else {
      do {
        try claim(live, of: entry)
        claimed += 1
        logger.notice(
          "a schedule's run was named but not made before a stop; made now",
          metadata: ["schedule.id": "\(id)", "job.id": "\(live.jobID)"])
      } catch {
        logger.warning("cannot make a schedule's run; it is tried again", metadata: ["error": "\(error)"])
      }
      return false
    }
    guard job.state.isFinal else { return false }
    var last = live
    last.status = job.state
    entry.record.last = last
    entry.record.live = nil
    if job.state == .success, let window = live.window { entry.record.windowEnd = window.to }
    entry.record.updatedAt = now
    do {
      try folder.save(entry.record)
    } catch {
      logger.warning(
        "cannot record a schedule's finished run; it is tried again", metadata: ["error": "\(error)"])
      return false
    }
    entries[id] = entry
    return true
  }

  /// Makes schedule `id`'s run for the time `due`, unless its last run is still live (that run's
  /// successor's window covers this time). The next time is set either way.
  private func makeRun(_ id: String, at due: Timestamp, in entries: inout [String: Entry], now: Timestamp)
    -> Bool
  {
    guard var entry = entries[id] else { return false }
    let next = entry.spec.next(after: now, created: entry.record.createdAt)
    var made = false
    if entry.record.live == nil {
      var window: RunWindow?
      var empty = false
      if let spec = entry.request.window {
        let from = entry.record.windowEnd ?? spec.start ?? entry.record.createdAt
        let to = Timestamp(seconds: Timestamp(milliseconds: now.milliseconds - spec.lagMilliseconds).seconds)
        window = RunWindow(field: spec.field, from: Timestamp(seconds: from.seconds), to: to)
        empty = to <= Timestamp(seconds: from.seconds)
      }
      if !empty {
        entry.record.live = ScheduleRecord.Run(
          jobID: ScheduleRecord.runID(schedule: id, at: due), scheduledAt: due, window: window)
        made = true
      }
    }
    entry.record.nextRunAt = next
    entry.record.updatedAt = now
    do {
      try folder.save(entry.record)
    } catch {
      logger.warning("cannot record a schedule's run; it is tried again", metadata: ["error": "\(error)"])
      return false
    }
    entries[id] = entry
    guard made, let live = entry.record.live else { return false }
    do {
      try claim(live, of: entry)
      logger.info(
        "schedule made a run",
        metadata: [
          "schedule.id": "\(id)", "job.id": "\(live.jobID)",
          "window.from": "\(live.window?.from.rfc3339 ?? "")",
          "window.to": "\(live.window?.to.rfc3339 ?? "")",
        ])
    } catch {
      logger.warning("cannot make a schedule's run; it is tried again", metadata: ["error": "\(error)"])
    }
    return true
  }

  /// Claims the job of `run`: the schedule's request (without its schedule, window and key) with the
  /// run's window, under the run's id.
  private func claim(_ run: ScheduleRecord.Run, of entry: Entry) throws {
    var request = entry.request
    request.schedule = nil
    request.window = nil
    request.idempotencyKey = nil
    var record = JobRecord(
      id: run.jobID, requestFile: entry.record.name, jobType: request.jobType, request: request,
      createdAt: store.clock.now(), partner: entry.record.partner)
    record.scheduleID = entry.record.id
    record.window = run.window
    _ = try store.claim(record, state: .pending, bytes: Array(entry.record.request.utf8))
  }

  // MARK: Publishing

  /// The schedules as they are now, for `jobdrop status` and the documents.
  public var all: [ScheduleRecord] { state.withLock { $0.values.map(\.record) } }

  /// Writes every site's `schedules.json`, `schedules/<id>.json` and the schedules' `requests/<name>`
  /// (at start, and when a schedule ended).
  func publishAll() { publish(nil) }

  /// Writes the documents of the schedules `changed` (`nil`: all of them, and every site's list, the
  /// documents of ended schedules removed) and the lists of their partners' sites.
  func publish(_ changed: Set<String>?) {
    let (byPartner, touched) = state.withLock { entries in
      let byPartner = Dictionary(grouping: entries.values, by: \.record.partner).mapValues { group in
        group.sorted { $0.record.id < $1.record.id }.map { ($0.record, $0.request) }
      }
      let touched = changed.map { ids in Set(ids.compactMap { entries[$0] }.map(\.record.partner)) }
      return (byPartner, touched)
    }
    var partners = Set(byPartner.keys)
    if let touched {
      partners = touched
    } else {
      // Every site opened gets its list (a partner's last schedule ended empties it).
      for (partner, _) in store.sites.opened { partners.insert(partner) }
    }
    for partner in partners {
      do {
        try store.publishSchedules(byPartner[partner] ?? [], changed: changed, partner: partner)
      } catch {
        logger.warning(
          "cannot publish the schedules; written at the next change", metadata: ["error": "\(error)"])
      }
    }
  }

}
