import FoundationEssentials
import JobdropModel
import JobdropSystem

/// What the spool keeps of a standing request: `spool/schedules/<id>.json`, written whole (temp file,
/// rename, directory sync) at every change, like a job's status file.
public struct ScheduleRecord: Codable, Sendable, Equatable {
  /// Derived from its partner and request file name (``JobID/derived(_:)``): dropping the file again
  /// replaces the schedule under the same id.
  public var id: String
  /// The request file's name.
  public var name: String
  public var partner: String?
  /// The request file's text, read again (``RequestParser``) at every start.
  public var request: String
  public var createdAt: Timestamp
  public var updatedAt: Timestamp
  /// Where the next window starts: the end of the last successful run's window (`nil` before the first
  /// success: the window's `start`, or the schedule's creation).
  public var windowEnd: Timestamp?
  /// When the next run is due.
  public var nextRunAt: Timestamp?
  /// The run made and not yet seen finished: no other run is made while it is pending or started.
  public var live: Run?
  /// The last run seen finished.
  public var last: Run?

  /// A run of the schedule: its job, the time it was made for, its window and (once finished) its status.
  public struct Run: Codable, Sendable, Equatable {
    public var jobID: String
    public var scheduledAt: Timestamp
    public var window: RunWindow?
    public var status: JobState?
  }

  public init(id: String, name: String, partner: String?, request: String, createdAt: Timestamp) {
    self.id = id
    self.name = name
    self.partner = partner
    self.request = request
    self.createdAt = createdAt
    self.updatedAt = createdAt
  }

  /// A schedule's id: the same partner and file name, the same id.
  public static func id(partner: String?, name: String) -> String {
    JobID.derived("schedule", partner ?? "", name)
  }

  /// The id of the run made for `time`: the same schedule and time, the same job.
  public static func runID(schedule: String, at time: Timestamp) -> String {
    JobID.derived("run", schedule, "\(time.milliseconds)")
  }

  var bytes: [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Array((try? encoder.encode(self)) ?? Data()) + [0x0A]
  }

  static func read(_ bytes: [UInt8]) -> ScheduleRecord? {
    try? JSONDecoder().decode(ScheduleRecord.self, from: Data(bytes))
  }
}

/// The spool's `schedules/` folder: one file a schedule.
public struct ScheduleFolder: Sendable {
  let directory: DirectoryHandle

  public init(spool: Spool) throws(FileSystemError) {
    directory = try spool.root.subdirectory("schedules", create: true, mode: 0o700)
  }

  /// The folder of the spool `reader` reads, to read only (`jobdrop status`); `nil` when it has none.
  public init?(reading reader: SpoolReader) {
    guard let directory = try? reader.root.subdirectory("schedules", create: false) else { return nil }
    self.directory = directory
  }

  /// Writes `record` durably.
  public func save(_ record: ScheduleRecord) throws {
    try AtomicWriter.write(record.bytes, to: FileName("\(record.id).json"), in: directory, mode: 0o600)
    CrashPoint.reached("schedule-saved")
  }

  /// Removes the schedule `id` durably.
  public func remove(_ id: String) throws {
    try directory.remove(FileName("\(id).json"))
    try directory.sync()
  }

  /// Every schedule, and the names of files that could not be read.
  public func all() -> (records: [ScheduleRecord], damaged: [String]) {
    var records: [ScheduleRecord] = []
    var damaged: [String] = []
    for name in (try? directory.entries()) ?? [] {
      if name.hasPrefix(AtomicWriter.temporaryPrefix) { continue }
      guard let bytes = try? FileReader.read(name, in: directory, limit: 4 << 20),
        let record = ScheduleRecord.read(bytes)
      else {
        damaged.append(name.display)
        continue
      }
      records.append(record)
    }
    return (records, damaged)
  }
}
