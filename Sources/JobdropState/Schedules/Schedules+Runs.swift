import JobdropModel
import JobdropSystem
import Logging

/// Making runs and settling finished ones.
extension Schedules {
  /// How long a run named by another node may wait for its job before this node claims it (that node
  /// died between naming it and claiming it).
  static let orphanSeconds: Int64 = 10

  /// When the earliest schedule is due, if any.
  public var nextDue: Timestamp? { state.withLock { $0.values.compactMap(\.record.nextRunAt).min() } }

  /// Makes the runs that are due (one a schedule, however many of its times passed: a catch-up covers
  /// them all) and settles finished ones. Returns how many jobs it claimed (the runners have work).
  @discardableResult
  public func runDue() -> Int {
    let refreshed = isShared && refresh()
    let now = store.clock.now()
    let (made, changed) = state.withLock { entries in
      var claimed = 0
      var changed = Set<String>()
      for id in entries.keys.sorted() {
        if reconcile(id, in: &entries, now: now, claimed: &claimed) { changed.insert(id) }
        guard let entry = entries[id], let due = entry.record.nextRunAt, due <= now else { continue }
        if makeRun(id, in: &entries, now: now, claimed: &claimed) { changed.insert(id) }
      }
      return (claimed, changed)
    }
    if refreshed {
      publishAll()
    } else if !changed.isEmpty {
      publish(changed)
    }
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
  func reconcile(_ id: String, in entries: inout [String: Entry], now: Timestamp, claimed: inout Int) -> Bool
  {
    guard let entry = entries[id], let live = entry.record.live else { return false }
    guard let job = store.job(id: live.jobID) else {
      // With several nodes the node that named it claims it at once; another one waits a moment first.
      if isShared && now.milliseconds - entry.record.updatedAt.milliseconds < Schedules.orphanSeconds * 1000 {
        return false
      }
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
    do {
      let stored = try backend.update(id) { current in
        guard var record = current, record.live?.jobID == live.jobID else { return nil }  // settled already
        var last = live
        last.status = job.state
        record.last = last
        record.live = nil
        if job.state == .success, let window = live.window { record.windowEnd = window.to }
        record.updatedAt = now
        return record
      }
      guard let stored else {
        entries[id] = nil
        return true
      }
      entries[id]?.record = stored
      return true
    } catch {
      logger.warning(
        "cannot record a schedule's finished run; it is tried again", metadata: ["error": "\(error)"])
      return false
    }
  }

  /// Makes schedule `id`'s run for its due time, unless its last run is still live (that run's
  /// successor's window covers this time). The next time is set either way. Returns whether the record
  /// changed.
  func makeRun(_ id: String, in entries: inout [String: Entry], now: Timestamp, claimed: inout Int) -> Bool {
    guard let entry = entries[id] else { return false }
    var made: ScheduleRecord.Run?
    let stored: ScheduleRecord?
    do {
      stored = try backend.update(id) { current in
        // As stored now: another node may have made this run already.
        guard var record = current, let due = record.nextRunAt, due <= now else { return nil }
        made = nil
        if record.live == nil, let run = Schedules.run(of: record, request: entry.request, due: due, now: now)
        {
          record.live = run
          made = run
        }
        record.nextRunAt = entry.spec.next(after: now, created: record.createdAt)
        record.updatedAt = now
        return record
      }
    } catch {
      logger.warning("cannot record a schedule's run; it is tried again", metadata: ["error": "\(error)"])
      return false
    }
    guard let stored else {
      entries[id] = nil
      return true
    }
    entries[id]?.record = stored
    guard let live = made else { return true }
    do {
      try claim(live, of: entry)
      claimed += 1
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

  /// The run of `record` for the time `due`: its id and window (`nil` when the window would be empty).
  static func run(of record: ScheduleRecord, request: ExportRequest, due: Timestamp, now: Timestamp)
    -> ScheduleRecord.Run?
  {
    var window: RunWindow?
    if let spec = request.window {
      let from = Timestamp(seconds: (record.windowEnd ?? spec.start ?? record.createdAt).seconds)
      let to = Timestamp(seconds: Timestamp(milliseconds: now.milliseconds - spec.lagMilliseconds).seconds)
      guard to > from else { return nil }
      window = RunWindow(field: spec.field, from: from, to: to)
    }
    return ScheduleRecord.Run(
      jobID: ScheduleRecord.runID(schedule: record.id, at: due), scheduledAt: due, window: window)
  }

  /// Claims the job of `run`: the schedule's request (without its schedule, window and key) with the
  /// run's window, under the run's id.
  func claim(_ run: ScheduleRecord.Run, of entry: Entry) throws {
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
}
