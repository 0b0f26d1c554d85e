import JobdropModel
import JobdropSystem
import Logging
import Synchronization

/// The standing requests: kept by a ``ScheduleBackend`` (the spool's `schedules/` folder, or the table
/// several nodes share), published in the outbox (``ScheduleDocument``), and turned into runs when their
/// times come (`Schedules+Runs.swift`).
///
/// A run is an ordinary job of the partner whose id is derived from the schedule and the time it was
/// made for (``ScheduleRecord/runID(schedule:at:)``). The schedule's record names its live run before
/// the job is claimed: a crash between the two is finished by a later look, which claims that same id; a
/// crash after both finds the job. At most one run is live at a time, and a window starts where the last
/// successful run's ended, so windows never overlap and leave no gap. Every change of a schedule is made
/// through ``ScheduleBackend/update(_:_:)`` (with several nodes, under the row's lock): of two nodes that
/// find it due, the second reads the first one's run and makes none.
///
/// One lock orders this process's changes; the store's lock is taken inside it, never the other way.
public final class Schedules: Sendable {
  public let store: JobStore
  let backend: any ScheduleBackend
  let parser: RequestParser
  let partners: PartnerRegistry?
  let logger: Logger
  let state = Mutex<[String: Entry]>([:])
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

  /// Schedules kept by `backend` (by default the store's spool folder).
  public init(
    store: JobStore, parser: RequestParser, partners: PartnerRegistry? = nil,
    backend: (any ScheduleBackend)? = nil, logger: Logger
  ) throws {
    self.store = store
    self.backend = try backend ?? ScheduleFolder(spool: store.spool)
    self.parser = parser
    self.partners = partners
    self.logger = logger
  }

  /// Whether other nodes change these schedules too (read again at every look).
  public var isShared: Bool { backend.isShared }

  // MARK: Start

  /// Reads every schedule back, settles each one's live run and publishes them. A schedule whose request
  /// no longer reads (a catalog changed) is logged and left.
  public func load() {
    refresh()
    let now = store.clock.now()
    state.withLock { entries in
      var claimed = 0
      for id in entries.keys { reconcile(id, in: &entries, now: now, claimed: &claimed) }
    }
    publishAll()
  }

  /// Reads the schedules from the backend into memory (a request is parsed again only when its text
  /// changed). Returns whether anything changed.
  @discardableResult
  func refresh() -> Bool {
    let (records, damaged) = backend.all()
    for name in damaged {
      logger.error(
        "a schedule's record cannot be read; it is left as it is", metadata: ["schedule": "\(name)"])
    }
    return state.withLock { entries in
      var next: [String: Entry] = [:]
      for record in records {
        if let known = entries[record.id], known.record.request == record.request {
          next[record.id] = Entry(record: record, request: known.request)
          continue
        }
        do {
          let request = try parser.read(Array(record.request.utf8))
          try parser.validate(request)
          guard request.schedule != nil else { throw RequestError("schedule: missing") }
          next[record.id] = Entry(record: record, request: request)
        } catch {
          logger.error(
            "a schedule's request no longer reads; it makes no runs",
            metadata: ["schedule.id": "\(record.id)", "error": "\(error)"])
        }
      }
      let changed = next.mapValues(\.record) != entries.mapValues(\.record)
      entries = next
      return changed
    }
  }

  // MARK: Requests

  /// Throws when `partner` has as many schedules as its `max_schedules` and `name` is not one of them.
  public func checkLimit(name: String, partner: String?) throws(RequestError) {
    guard let partner, let limit = partners?.partner(id: partner)?.maximumSchedules else { return }
    if isShared { refresh() }
    let id = ScheduleRecord.id(partner: partner, name: name)
    let count = state.withLock { entries in
      entries[id] != nil ? -1 : entries.values.filter { $0.record.partner == partner }.count
    }
    if count >= limit { throw RequestError("too many schedules for partner '\(partner)' (limit \(limit))") }
  }

  /// Makes or replaces the schedule of `partner`'s request file `name` (its text `bytes`, already
  /// parsed and validated as `request`). A replacement keeps its window position when the job type, the
  /// window's field and the filter are unchanged.
  public func register(name: String, partner: String?, bytes: [UInt8], request: ExportRequest) throws
    -> Registration
  {
    let now = store.clock.now()
    let id = ScheduleRecord.id(partner: partner, name: name)
    let registration: Registration = try state.withLock { entries in
      var registration = Registration.created(
        ScheduleRecord(id: id, name: name, partner: partner, request: "", createdAt: now))
      let stored = try backend.update(id) { old in
        var record = ScheduleRecord(
          id: id, name: name, partner: partner, request: String(decoding: bytes, as: UTF8.self),
          createdAt: now)
        var keptWindow = false
        if let old {
          record.createdAt = old.createdAt
          record.live = old.live
          record.last = old.last
          let before = try? parser.read(Array(old.request.utf8))
          if before?.jobType == request.jobType && before?.filter == request.filter
            && before?.window?.field == request.window?.field
          {
            record.windowEnd = old.windowEnd
            keptWindow = true
          }
        }
        record.updatedAt = now
        record.nextRunAt = request.schedule!.next(after: now, created: record.createdAt)
        registration = old == nil ? .created(record) : .replaced(record, keptWindow: keptWindow)
        return record
      }
      if let stored { entries[id] = Entry(record: stored, request: request) }
      return registration
    }
    changeHandler.withLock { $0 }?()
    publish([id])
    return registration
  }

  /// Ends `partner`'s schedule `id` (a cancel request naming it); `nil` when it is no schedule of theirs.
  /// Its live run, if any, goes on as an ordinary job.
  public func end(id: String, partner: String?) throws -> JobStore.CancelResult? {
    if isShared { refresh() }
    let ended: ScheduleRecord? = try state.withLock { entries in
      guard let entry = entries[id], entry.record.partner == partner else { return nil }
      try backend.remove(id)
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
