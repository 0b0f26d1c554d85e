import FoundationEssentials
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The private job store: one status file per job in `spool/<state>/<id>.json`; the writer's side.
///
/// Layout: `requests/<id>.json` (the request file as dropped, moved here from the inbox by the claim),
/// one folder per ``JobState`` and `damaged/` (status files recovery could not read). A status file
/// counts only while its request is in `requests/`. Every change is durable when the call returns: files
/// are written through ``AtomicWriter`` and the directories involved are synced. Folders are 0700.
///
/// Reading goes through ``reader`` (a ``SpoolReader``), which can change nothing; the one call that
/// deletes what a crash left, ``recover(_:returningRequestsTo:)``, needs the spool's ``SpoolLock``.
public final class Spool: Sendable {
  /// The read-only view of this spool.
  public let reader: SpoolReader
  public var root: DirectoryHandle { reader.root }
  var requests: DirectoryHandle { reader.requests }
  let damaged: DirectoryHandle

  /// Opens (creating when missing) the spool at `path`.
  public init(path: String) throws(FileSystemError) {
    let root = try DirectoryHandle(path: path, create: true, mode: 0o700)
    _ = chmod(path, 0o700)
    _ = try root.subdirectory("requests", create: true, mode: 0o700)
    for state in JobState.allCases { _ = try root.subdirectory(state.rawValue, create: true, mode: 0o700) }
    damaged = try root.subdirectory("damaged", create: true, mode: 0o700)
    reader = try SpoolReader(root: root)
  }

  /// Takes the spool's process lock; keep the result alive as long as the spool is worked.
  public func lock() throws -> SpoolLock { try SpoolLock(directory: root) }

  package func folder(_ state: JobState) -> DirectoryHandle { reader.folder(state) }

  static func fileName(_ id: String) -> FileName { FileName("\(id).json") }

  // MARK: Claiming

  /// Takes `name` out of `inbox` as the job `record`, which enters `state` (`pending`, or `failed` when the
  /// request was refused); `identity` is the file the record was made from.
  ///
  /// Order: the status file is written (durably) into its state folder, then the request is renamed into
  /// `requests/` and both folders are synced. A crash in between leaves a status file without its request,
  /// which recovery removes, and the request still in the inbox: it is claimed again, once.
  ///
  /// The inbox is the partners' to change at any moment, so the claim checks what it took: when the name
  /// is gone, or now names another file (a re-upload, a directory), the status file is removed, what was
  /// taken by mistake goes back to the inbox, and ``ClaimError`` says so. The bytes a job keeps in
  /// `requests/` are therefore always the bytes its record was made from. Returns the error of a folder
  /// sync that failed after the rename: the claim stands, but a power cut could still undo it.
  @discardableResult
  public func claim(
    _ name: FileName, from inbox: DirectoryHandle, as record: JobRecord, state: JobState,
    identity: FileIdentity
  ) throws -> FileSystemError? {
    precondition(state == .pending || state == .failed)
    let file = Spool.fileName(record.id)
    try AtomicWriter.write(try Spool.encode(record), to: file, in: folder(state), mode: 0o600)
    CrashPoint.reached("claim-status-written")
    do {
      try inbox.rename(name, to: requests, as: file)
    } catch {
      try? folder(state).remove(file)
      if [ENOENT, ENOTDIR, EISDIR, ENOTEMPTY].contains(error.errno) { throw ClaimError.gone(name) }
      throw error
    }
    let taken = try? requests.status(of: file)
    if taken.map(FileIdentity.init) != identity {
      try? folder(state).remove(file)
      giveBack(file, as: name, to: inbox)
      throw ClaimError.replaced(name)
    }
    // The rename was the claim: from here on the job exists, whatever the syncs say. A sync that fails
    // is reported to the caller; if a power cut then loses the rename, recovery drops the status file
    // and the request, back in the inbox, is claimed again.
    do {
      try requests.sync()
      try inbox.sync()
    } catch {
      CrashPoint.reached("claimed")
      return error
    }
    CrashPoint.reached("claimed")
    return nil
  }

  /// Puts an entry claimed by mistake back into the inbox under its name (or, when a newer upload has taken
  /// the name meanwhile, under `<name>-<n>.json`), where the intake sees it again.
  private func giveBack(_ file: FileName, as name: FileName, to inbox: DirectoryHandle) {
    var target = name
    for attempt in 1...100 {
      do {
        try requests.renameNoReplace(file, to: inbox, as: target)
        break
      } catch {
        if error.errno != EEXIST { break }
      }
      let stem = name.hasSuffix(".json") ? Array(name.bytes.dropLast(5)) : name.bytes
      target = FileName(bytes: stem + Array("-\(attempt).json".utf8))
    }
    try? requests.sync()
    try? inbox.sync()
  }

  /// The request file's bytes as dropped.
  public func requestBytes(of id: String) -> [UInt8]? { reader.requestBytes(of: id) }

  // MARK: Moving and updating

  /// Moves a job's status file from `job.state` to `target` and stores `record` there.
  ///
  /// Throws ``IllegalTransition`` for a move the state machine forbids. The new status file is written
  /// durably in `target` first, then the old one is retired: a crash between the two leaves both, and the
  /// later state is the true one (recovery removes the other). So the record a move stores is never lost
  /// or half-applied. When it returns, the job is durably in `target` with the new record.
  public func move(_ job: Job, to target: JobState, record: JobRecord) throws -> Job {
    guard job.state.canMove(to: target) else {
      throw IllegalTransition(id: job.id, from: job.state, to: target)
    }
    let file = Spool.fileName(job.id)
    try AtomicWriter.write(try Spool.encode(record), to: file, in: folder(target), mode: 0o600)
    CrashPoint.reached("move-written")
    // The move is done; an old file that cannot be retired now is retired by the next recovery.
    try? folder(job.state).remove(file)
    try? folder(job.state).sync()
    CrashPoint.reached("move-retired")
    return Job(record: record, state: target)
  }

  /// Rewrites a job's record in its current state folder (progress, counters).
  public func update(_ job: Job) throws {
    try AtomicWriter.write(
      try Spool.encode(job.record), to: Spool.fileName(job.id), in: folder(job.state), mode: 0o600)
  }

  /// Forgets a finished job: its status file and its request.
  public func remove(_ job: Job) throws(FileSystemError) {
    let file = Spool.fileName(job.id)
    try folder(job.state).remove(file)
    try requests.remove(file)
    try folder(job.state).sync()
  }

  // MARK: Recovery

  /// What recovery found and did.
  public struct Recovery: Sendable {
    /// Every job in the spool, in its latest state.
    public var jobs: [Job] = []
    /// Status files that could not be read, now in `damaged/`: the path each was at and why.
    public var quarantined: [(path: String, reason: String)] = []
    /// Requests of quarantined jobs put back into the inbox (under these names) to be claimed anew.
    public var returned: [FileName] = []
  }

  /// Every job in the spool, after undoing what a crash cut short. Only the holder of the spool's lock can
  /// call it: it deletes.
  ///
  /// - a status file whose request never reached `requests/` (an unfinished claim) is removed;
  /// - a job with status files in two states (an unfinished move) keeps the later one;
  /// - a request left without a status file (an unfinished expiry) is removed;
  /// - stale temp files are removed;
  /// - a status file that cannot be read is moved to `damaged/`; its request, when it is still there and
  ///   no other status file holds the job, goes back to `inbox` as `recovered-<id>.json` and is claimed
  ///   as a new job.
  public func recover(_ lock: SpoolLock, returningRequestsTo inbox: DirectoryHandle) throws -> Recovery {
    precondition(lock.spoolPath == root.path, "the lock is not this spool's")
    var recovery = Recovery()
    var latest: [String: Job] = [:]
    var damagedNames: [FileName: JobState] = [:]
    let requestNames = Set(try requests.entries())
    for state in JobState.allCases {
      let directory = folder(state)
      for name in try directory.entries() {
        guard !name.hasPrefix(AtomicWriter.temporaryPrefix), requestNames.contains(name) else {
          try directory.remove(name)
          continue
        }
        switch reader.read(name, in: directory) {
        case .gone: continue
        case .damaged(let reason):
          try directory.rename(name, to: damaged, as: name)
          recovery.quarantined.append((directory.display(name), reason))
          damagedNames[name] = state
        case .record(let record):
          if let earlier = latest[record.id] { try folder(earlier.state).remove(name) }
          latest[record.id] = Job(record: record, state: state)
        }
      }
    }
    let live = Set(latest.keys.map(Spool.fileName))
    for name in requestNames where !live.contains(name) {
      if name.hasPrefix(AtomicWriter.temporaryPrefix) || damagedNames[name] == nil {
        try requests.remove(name)
        continue
      }
      let returned = FileName(bytes: Array("recovered-".utf8) + name.bytes)
      if (try? requests.renameNoReplace(name, to: inbox, as: returned)) != nil {
        recovery.returned.append(returned)
      }
    }
    for state in JobState.allCases { try folder(state).sync() }
    try damaged.sync()
    try requests.sync()
    if !recovery.returned.isEmpty { try inbox.sync() }
    recovery.jobs = Array(latest.values)
    return recovery
  }

  static func encode<T: Encodable>(_ value: T) throws(FileSystemError) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do {
      return Array(try encoder.encode(value))
    } catch {
      preconditionFailure("a job record always encodes: \(error)")
    }
  }
}
