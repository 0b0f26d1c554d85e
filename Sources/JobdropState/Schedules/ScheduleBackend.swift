import JobdropSystem

/// Where schedules are kept: the spool's `schedules/` folder (``ScheduleFolder``), or the PostgreSQL table
/// several nodes share (``SharedScheduleBackend``), where every change of a schedule is made under its
/// row's lock so exactly one node makes each run.
public protocol ScheduleBackend: Sendable {
  /// Whether other processes change these schedules too: they are read again at every look.
  var isShared: Bool { get }
  /// Every schedule, and the names of records that could not be read.
  func all() -> (records: [ScheduleRecord], damaged: [String])
  /// Removes the schedule `id`, durably.
  func remove(_ id: String) throws
  /// Changes the schedule `id` as it is stored now, exclusively: `change` gets it (`nil` when there is
  /// none) and returns what to store (`nil`: leave it as it is). Returns what is stored afterwards.
  @discardableResult
  func update(_ id: String, _ change: (ScheduleRecord?) throws -> ScheduleRecord?) throws -> ScheduleRecord?
}

extension ScheduleFolder: ScheduleBackend {
  public var isShared: Bool { false }

  @discardableResult
  public func update(_ id: String, _ change: (ScheduleRecord?) throws -> ScheduleRecord?) throws
    -> ScheduleRecord?
  {
    let current = (try? FileReader.read(FileName("\(id).json"), in: directory, limit: 4 << 20))
      .flatMap(ScheduleRecord.read)
    guard let changed = try change(current) else { return current }
    try save(changed)
    return changed
  }
}

/// The schedules in the PostgreSQL table several nodes share (`jobdrop_schedules`).
public struct SharedScheduleBackend: ScheduleBackend {
  let table: PostgresSpool

  public init(table: PostgresSpool) { self.table = table }

  public var isShared: Bool { true }

  public func all() -> (records: [ScheduleRecord], damaged: [String]) {
    guard let rows = try? table.scheduleRecords() else { return ([], []) }
    var records: [ScheduleRecord] = []
    var damaged: [String] = []
    for (id, text) in rows {
      if let record = ScheduleRecord.read(Array(text.utf8)) {
        records.append(record)
      } else {
        damaged.append(id)
      }
    }
    return (records, damaged)
  }

  public func remove(_ id: String) throws { try table.removeSchedule(id) }

  @discardableResult
  public func update(_ id: String, _ change: (ScheduleRecord?) throws -> ScheduleRecord?) throws
    -> ScheduleRecord?
  {
    try table.updateSchedule(id) { text in
      let current = text.flatMap { ScheduleRecord.read(Array($0.utf8)) }
      guard let changed = try change(current) else { return nil }
      return (changed.partner, String(decoding: changed.bytes, as: UTF8.self))
    }.flatMap { ScheduleRecord.read(Array($0.utf8)) }
  }
}
