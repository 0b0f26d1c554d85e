import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#endif

/// The private job store: one status file per job in `spool/<state>/<id>.json`, moved by `rename(2)`.
///
/// Layout: `requests/<id>.json` (the request file as dropped, moved here from the inbox by the claim) and
/// one folder per ``JobState``. A status file counts only while its request is in `requests/`. Every
/// change is durable when the call returns: files are written through ``AtomicWriter`` and both
/// directories of a rename are synced. Folders are 0700.
public final class Spool: @unchecked Sendable {
  public let root: DirectoryHandle
  let requests: DirectoryHandle
  private let stateFolders: [JobState: DirectoryHandle]

  /// Opens (creating when missing) the spool at `path`.
  public init(path: String) throws(FileSystemError) {
    root = try DirectoryHandle(path: path, create: true, mode: 0o700)
    _ = chmod(path, 0o700)
    requests = try root.subdirectory("requests", create: true, mode: 0o700)
    var folders: [JobState: DirectoryHandle] = [:]
    for state in JobState.allCases {
      folders[state] = try root.subdirectory(state.rawValue, create: true, mode: 0o700)
    }
    stateFolders = folders
  }

  /// Takes the spool's process lock; keep the result alive as long as the spool is worked.
  public func lock() throws -> SpoolLock { try SpoolLock(directory: root) }

  func folder(_ state: JobState) -> DirectoryHandle { stateFolders[state]! }

  static func fileName(_ id: String) -> FileName { FileName("\(id).json") }

  // MARK: Claiming

  /// Takes `name` out of `inbox` as the job `record`, which enters `state` (`pending`, or `failed` when the
  /// request was refused).
  ///
  /// Order: the status file is written (durably) into its state folder, then the request is renamed into
  /// `requests/` and both folders are synced. A crash in between leaves a status file without its request,
  /// which ``load()`` removes, and the request still in the inbox: it is claimed again, once.
  public func claim(_ name: FileName, from inbox: DirectoryHandle, as record: JobRecord, state: JobState)
    throws
  {
    precondition(state == .pending || state == .failed)
    let file = Spool.fileName(record.id)
    try AtomicWriter.write(try Spool.encode(record), to: file, in: folder(state), mode: 0o600)
    CrashPoint.reached("claim-status-written")
    do {
      try inbox.rename(name, to: requests, as: file)
    } catch {
      try? folder(state).remove(file)
      throw error
    }
    try requests.sync()
    try inbox.sync()
    CrashPoint.reached("claimed")
  }

  /// The request file's bytes as dropped.
  public func requestBytes(of id: String) -> [UInt8]? {
    guard let descriptor = try? requests.openFile(Spool.fileName(id), flags: O_RDONLY | O_NOFOLLOW) else {
      return nil
    }
    defer { close(descriptor) }
    return try? FileReader.readAll(descriptor, limit: RequestParser.maximumSize + 1, path: id)
  }

  // MARK: Moving and updating

  /// Moves a job's status file from `job.state` to `target` and stores `record` there.
  ///
  /// Throws ``IllegalTransition`` for a move the state machine forbids. The rename is the state change:
  /// when it returns, the job is durably in `target` with the new record.
  public func move(_ job: Job, to target: JobState, record: JobRecord) throws -> Job {
    guard job.state.canMove(to: target) else {
      throw IllegalTransition(id: job.id, from: job.state, to: target)
    }
    let file = Spool.fileName(job.id)
    let source = folder(job.state)
    let destination = folder(target)
    try source.rename(file, to: destination, as: file)
    try destination.sync()
    try source.sync()
    try AtomicWriter.write(try Spool.encode(record), to: file, in: destination, mode: 0o600)
    return Job(record: record, state: target)
  }

  /// Rewrites a job's record in its current state folder (progress, counters).
  public func update(_ job: Job) throws {
    try AtomicWriter.write(
      try Spool.encode(job.record), to: Spool.fileName(job.id), in: folder(job.state), mode: 0o600)
  }

  /// Forgets a finished job: its status file and its request.
  public func remove(_ job: Job) throws {
    let file = Spool.fileName(job.id)
    try folder(job.state).remove(file)
    try requests.remove(file)
    try folder(job.state).sync()
  }

  // MARK: Loading

  /// Every job in the spool, after undoing what a crash cut short: a status file whose request never
  /// reached `requests/` (an unfinished claim) and a request left without a status file (an unfinished
  /// expiry) are removed, and so are stale temp files. Call only while holding the spool lock.
  public func load() throws -> [Job] {
    var jobs: [Job] = []
    var seen = Set<String>()
    var statusNames = Set<FileName>()
    let requestNames = Set(try requests.entries())
    for state in JobState.allCases.reversed() {
      let directory = folder(state)
      for name in try directory.entries() {
        if name.hasPrefix(AtomicWriter.temporaryPrefix) {
          try directory.remove(name)
          continue
        }
        guard requestNames.contains(name) else {
          try directory.remove(name)
          continue
        }
        statusNames.insert(name)
        guard let record = try? read(JobRecord.self, name, in: directory), !seen.contains(record.id) else {
          continue
        }
        seen.insert(record.id)
        jobs.append(Job(record: record, state: state))
      }
    }
    for name in requestNames
    where !statusNames.contains(name) && !name.hasPrefix(AtomicWriter.temporaryPrefix) {
      try requests.remove(name)
    }
    return jobs
  }

  /// The job with `id`, if it is in the spool.
  public func job(id: String) -> Job? {
    guard JobID.isValid(id) else { return nil }
    for state in JobState.allCases {
      if let record = try? read(JobRecord.self, Spool.fileName(id), in: folder(state)) {
        return Job(record: record, state: state)
      }
    }
    return nil
  }

  private func read<T: Decodable>(_ type: T.Type, _ name: FileName, in directory: DirectoryHandle) throws -> T
  {
    let descriptor = try directory.openFile(name, flags: O_RDONLY | O_NOFOLLOW)
    defer { close(descriptor) }
    let bytes = try FileReader.readAll(descriptor, limit: 4 << 20, path: directory.display(name))
    return try JSONDecoder().decode(T.self, from: Data(bytes))
  }

  static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Array(try encoder.encode(value))
  }
}
