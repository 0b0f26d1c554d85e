import FoundationEssentials
import JobdropCrypto
import JobdropModel
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The private job store: one status file per job in `spool/<state>/<id>.json`; the writer's side.
///
/// Layout: `requests/<id>.json` (a copy of the request file's bytes as they were read), one folder per
/// ``JobState``, `damaged/` (status files recovery could not read) and `retiring/` (where a claimed inbox
/// file is checked before it is deleted). A status file
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
  /// Where a claimed inbox file is checked before it is deleted (see ``retire(_:from:as:)``).
  let retiring: DirectoryHandle

  /// Opens (creating when missing) the spool at `path`.
  public init(path: String) throws(FileSystemError) {
    let root = try DirectoryHandle(path: path, create: true, mode: 0o700)
    _ = chmod(path, 0o700)
    _ = try root.subdirectory("requests", create: true, mode: 0o700)
    for state in JobState.allCases { _ = try root.subdirectory(state.rawValue, create: true, mode: 0o700) }
    damaged = try root.subdirectory("damaged", create: true, mode: 0o700)
    retiring = try root.subdirectory("retiring", create: true, mode: 0o700)
    reader = try SpoolReader(root: root)
  }

  /// Takes the spool's process lock; keep the result alive as long as the spool is worked.
  public func lock() throws -> SpoolLock { try SpoolLock(directory: root) }

  package func folder(_ state: JobState) -> DirectoryHandle { reader.folder(state) }

  static func fileName(_ id: String) -> FileName { FileName("\(id).json") }

  // MARK: Claiming

  /// Makes `record` a job in `state` (`pending`, or `failed` when the request was refused), keeping
  /// `bytes` (the request file's content, read through the pinned file) as its request.
  ///
  /// Order: the request's copy is written into `requests/`, then the status file into its state folder,
  /// each durably. The status file is the claim: a crash before it leaves a request without a status
  /// file, which recovery removes, and the request file still in the inbox, claimed again once. The
  /// partner's file is not touched: it stays in the inbox until ``retire(_:from:as:)`` takes it away, so a
  /// client that looks at its upload right after it (stat, setting the time) finds it.
  public func claim(_ record: JobRecord, state: JobState, bytes: [UInt8]) throws {
    precondition(state == .pending || state == .failed)
    let file = Spool.fileName(record.id)
    do {
      try AtomicWriter.write(bytes, to: file, in: requests, mode: 0o600)
      CrashPoint.reached("claim-request-written")
      try AtomicWriter.write(Spool.encode(record), to: file, in: folder(state), mode: 0o600)
    } catch {
      // A write that failed after its rename (the folder's fsync) must not leave a job nobody knows of:
      // the request is claimed again later, as a new job.
      try? folder(state).remove(file)
      try? requests.remove(file)
      throw error
    }
    CrashPoint.reached("claimed")
  }

  /// Writes a claim's request copy and status file as temp files of `group` (see ``claim(_:state:bytes:)``
  /// for the layout): the group's commit renames the request copy first, then the status file, after
  /// one flush has made both durable. A crash before that leaves temp files, which recovery removes, and
  /// the request in the inbox.
  public func stageClaim(_ record: JobRecord, state: JobState, bytes: [UInt8], in group: inout GroupWrite)
    throws
  {
    precondition(state == .pending || state == .failed)
    let file = Spool.fileName(record.id)
    try group.add(bytes, as: file, in: requests, mode: 0o600)
    try group.add(Spool.encode(record), as: file, in: folder(state), mode: 0o600)
  }

  /// What retiring a claimed inbox file found.
  public enum Retirement: Sendable, Equatable {
    /// The claimed file was taken out of the inbox and deleted.
    case retired
    /// The name held another file, or the claimed one with other content (a new upload): it was left in
    /// the inbox (under this name, or `<name>-<n>.json` when a newer upload took the name meanwhile).
    case newUpload(FileName)
    /// Nothing is there any more.
    case gone
  }

  /// Takes a claimed request file out of the inbox once its grace time is over, if it is still the file
  /// and the content that were claimed (`claim`: device, inode and SHA-256 of its bytes; no SHA-256 for a
  /// file that could not be read).
  ///
  /// It is first renamed into the spool's private `retiring/` folder, so that what is checked is what was
  /// taken, whatever a partner renames onto the name meanwhile; a new upload goes back.
  public func retire(_ name: FileName, from inbox: DirectoryHandle, as claim: InboxClaim) -> Retirement {
    let parked = Spool.fileName(claim.jobID)
    do {
      try inbox.rename(name, to: retiring, as: parked)
    } catch {
      return .gone
    }
    let status = try? retiring.status(of: parked)
    var same = status.map(FileIdentity.init) == claim.identity
    if same, let sha = claim.sha256 {
      let bytes = try? FileReader.read(parked, in: retiring, limit: RequestParser.maximumSize + 1)
      same = bytes.map { SHA256Digest.hex(of: $0) } == sha
    }
    if same {
      // Not synced: if a crash brings the claimed file back into the inbox, recovery finds it still
      // claimed (the job's claim holds its identity and SHA-256) and takes it away again.
      try? retiring.remove(parked)
      return .retired
    }
    return .newUpload(giveBack(parked, as: name, to: inbox))
  }

  /// Puts an entry taken by mistake back into the inbox under its name (or, when a newer upload has taken
  /// the name meanwhile, under `<name>-<n>.json`), where the intake sees it again; returns the name.
  private func giveBack(_ file: FileName, as name: FileName, to inbox: DirectoryHandle) -> FileName {
    var target = name
    for attempt in 1...100 {
      do {
        try retiring.renameNoReplace(file, to: inbox, as: target)
        break
      } catch {
        if error.errno != EEXIST { break }
      }
      let stem = name.hasSuffix(".json") ? Array(name.bytes.dropLast(5)) : name.bytes
      target = FileName(bytes: stem + Array("-\(attempt).json".utf8))
    }
    try? inbox.sync()
    return target
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
  ///
  /// A job started inside a group of jobs is started in memory only (``JobStore/startNextPending(durable:)``):
  /// its `pending` file stays until its start is written (``update(_:)``, which then retires it) or it
  /// ends. The move that ends such a job retires the `pending` file too, unless it goes back to `pending`
  /// (which replaces it).
  public func move(_ job: Job, to target: JobState, record: JobRecord) throws -> Job {
    try check(job, to: target)
    let file = Spool.fileName(job.id)
    try AtomicWriter.write(Spool.encode(record), to: file, in: folder(target), mode: 0o600)
    CrashPoint.reached("move-written")
    retireEarlierFiles(of: job, movedTo: target)
    try? folder(job.state).sync()
    CrashPoint.reached("move-retired")
    return Job(record: record, state: target)
  }

  /// Removes a moved job's status file in its old state and, for a job started in memory (see
  /// ``move(_:to:record:)``), the `pending` file it left, unless the move went back to `pending`. The
  /// move is done: a file that cannot be removed now is removed by the next recovery.
  private func retireEarlierFiles(of job: Job, movedTo target: JobState) {
    retire(job.id, from: job.state)
    if job.state == .started && target != .pending { retire(job.id, from: .pending) }
  }

  /// Throws ``IllegalTransition`` for a move the state machine forbids.
  public func check(_ job: Job, to target: JobState) throws(IllegalTransition) {
    guard job.state.canMove(to: target) else {
      throw IllegalTransition(id: job.id, from: job.state, to: target)
    }
  }

  /// Makes many moves durably together (a group commit, ``GroupWrite``): every new status file is
  /// written and made durable with `alsoFlush` (the jobs' export files, published without a sync), the
  /// files are renamed into their state folders, the renames are made durable, and the old status files
  /// are retired. A burst pays two file-system flushes for the whole group where
  /// ``move(_:to:record:)`` pays three fsyncs per job. A crash anywhere leaves each job in its old state or its new one (both
  /// files: the later state is the true one, as for a single move); when it returns, every job is durably
  /// in its target state.
  public func commitMoves(
    _ moves: [(job: Job, target: JobState, record: JobRecord)], alsoFlush: [UnsyncedFile]
  )
    throws -> [Job]
  {
    for move in moves { try check(move.job, to: move.target) }
    var group = GroupWrite()
    do {
      for move in moves {
        try group.add(
          Spool.encode(move.record), as: Spool.fileName(move.job.id), in: folder(move.target), mode: 0o600
        )
      }
      try group.commit(alsoFlushing: alsoFlush)
    } catch {
      group.discard()
      throw error
    }
    for move in moves { retireEarlierFiles(of: move.job, movedTo: move.target) }
    CrashPoint.reached("group-retired")
    return moves.map { Job(record: $0.record, state: $0.target) }
  }

  /// Removes job `id`'s status file in `state` if there is one (a stale copy of an earlier state: the
  /// later state is the true one).
  func retire(_ id: String, from state: JobState) {
    try? folder(state).remove(Spool.fileName(id))
  }

  /// Rewrites a job's record in its current state folder (progress, counters), durably. A `started`
  /// job's first update writes the start of a job started in memory: the `pending` file it left is
  /// retired then, so the job has one status file again (a crash before the unlink reaches the disk
  /// leaves both, and recovery keeps the later state, as for a move).
  public func update(_ job: Job) throws {
    try AtomicWriter.write(
      Spool.encode(job.record), to: Spool.fileName(job.id), in: folder(job.state), mode: 0o600)
    if job.state == .started { retire(job.id, from: .pending) }
  }

  /// Forgets a finished job: its status file and its request.
  public func remove(_ id: String, in state: JobState) throws(FileSystemError) {
    let file = Spool.fileName(id)
    try folder(state).remove(file)
    try requests.remove(file)
    try folder(state).sync()
  }

  // MARK: Recovery

  /// What recovery found and did.
  public struct Recovery: Sendable {
    /// Status files that could not be read, now in `damaged/`, each with its request copy when it is
    /// still in `requests/` (kept there for the job to be rebuilt under its own id).
    public var damaged: [Damaged] = []
    /// Jobs whose request copy had gone from `requests/`: written anew from their status file's record.
    public var requestsRestored: [String] = []
    /// Files a cut-short retirement left that were not the claimed upload, put back into the inbox.
    public var returned: [FileName] = []
  }

  /// A status file recovery could not read, moved to `damaged/`.
  public struct Damaged: Sendable {
    /// The job's id (its file's name).
    public var id: String
    /// Where the status file was, and why it could not be read.
    public var path: String
    public var reason: String
    /// The request copy's bytes and when it was written, when it is still in `requests/`.
    public var request: [UInt8]?
    public var requestWritten: Timestamp?
  }

  /// Hands `each` every job in the spool, in its latest state, after undoing what a crash cut short.
  /// Only the holder of the spool's lock can call it: it deletes.
  ///
  /// - a job with status files in two states (an unfinished move) keeps the later one;
  /// - a request left without a status file (an unfinished claim, or an expiry cut short) is removed;
  /// - a readable status file whose request copy has gone (deleted by hand, lost to a disk fault; a
  ///   claim writes the copy first and an expiry removes it last, so no crash leaves this) keeps its
  ///   job: the copy is written anew from the record's request;
  /// - stale temp files are removed;
  /// - a status file that cannot be read is moved to `damaged/` and reported with its request copy,
  ///   which stays in `requests/`: the caller rebuilds the job under its id (``restore(_:request:)``);
  ///   one an earlier start moved there but died before rebuilding is reported again.
  ///
  /// Jobs are read one at a time and handed on, never held together: what it keeps is each job's file
  /// name and state, so a spool of 100,000 jobs is recovered in a few megabytes.
  public func recover(
    _ lock: SpoolLock, returningRequestsTo inbox: DirectoryHandle, each: (Job) throws -> Void
  ) throws -> Recovery {
    precondition(lock.spoolPath == root.path, "the lock is not this spool's")
    var recovery = Recovery()
    /// The state each job is in: the latest state holding a readable status file.
    var live: [FileName: JobState] = [:]
    var damagedNames: [FileName: Int] = [:]
    let requestNames = Set(try requests.entries())
    for state in JobState.allCases.reversed() {
      let directory = folder(state)
      for name in try directory.entries() {
        if name.hasPrefix(AtomicWriter.temporaryPrefix) || live[name] != nil {
          try directory.remove(name)  // a temp file, or an earlier state of a job whose move was cut short
          continue
        }
        switch reader.read(name, in: directory) {
        case .gone: continue
        case .damaged(let reason):
          try directory.rename(name, to: damaged, as: name)
          // (An earlier state's readable record, if one is left, is the job's: see below.)
          damagedNames[name] = recovery.damaged.count
          recovery.damaged.append(
            Damaged(
              id: String(decoding: name.bytes.prefix(36), as: UTF8.self), path: directory.display(name),
              reason: reason))
        case .record(let record):
          if !requestNames.contains(name) {
            try AtomicWriter.write(Spool.requestCopy(of: record), to: name, in: requests, mode: 0o600)
            recovery.requestsRestored.append(record.id)
          }
          live[name] = state
          try each(Job(record: record, state: state))
        }
      }
    }
    // A damaged status file with a readable earlier state left beside it (a move cut short): the job
    // goes on from that state and needs no rebuilding.
    recovery.damaged.removeAll { live[Spool.fileName($0.id)] != nil }
    damagedNames = Dictionary(
      recovery.damaged.enumerated().map { (Spool.fileName($0.element.id), $0.offset) }
    ) { first, _ in first }
    // A status file an earlier start moved to `damaged/` and died before rebuilding its job (its request
    // copy is still here, and no state holds it): rebuilt by this start instead.
    for name in try damaged.entries()
    where live[name] == nil && damagedNames[name] == nil && requestNames.contains(name)
      && name.bytes.count > 36
    {
      damagedNames[name] = recovery.damaged.count
      recovery.damaged.append(
        Damaged(
          id: String(decoding: name.bytes.prefix(36), as: UTF8.self), path: damaged.display(name),
          reason: "left unrepaired by a start that stopped"))
    }
    for name in requestNames where live[name] == nil {
      if !name.hasPrefix(AtomicWriter.temporaryPrefix), let index = damagedNames[name],
        let bytes = try? FileReader.read(name, in: requests, limit: RequestParser.maximumSize + 1)
      {
        recovery.damaged[index].request = bytes
        recovery.damaged[index].requestWritten = (try? requests.status(of: name)).flatMap { $0 }.map {
          Timestamp(milliseconds: Int64($0.st_mtim.tv_sec) * 1000 + Int64($0.st_mtim.tv_nsec) / 1_000_000)
        }
        continue
      }
      try requests.remove(name)
    }
    // A retirement a crash cut short: the claimed file is deleted; anything else goes back to the inbox.
    for name in try retiring.entries() {
      let id = String(decoding: name.bytes.prefix(36), as: UTF8.self)
      var claim: InboxClaim?
      var damagedRequest: [UInt8]?
      if JobID.isValid(id), let state = live[Spool.fileName(id)],
        case .record(let record) = reader.read(Spool.fileName(id), in: folder(state))
      {
        claim = record.inboxClaim
      } else if let index = damagedNames[Spool.fileName(id)] {
        damagedRequest = recovery.damaged[index].request
      }
      let bytes = try? FileReader.read(name, in: retiring, limit: RequestParser.maximumSize + 1)
      let sha = bytes.map { SHA256Digest.hex(of: $0) }
      if (claim != nil && sha == claim?.sha256) || (damagedRequest != nil && bytes == damagedRequest) {
        try retiring.remove(name)
      } else {
        let back = giveBack(
          name, as: claim?.fileName ?? FileName(bytes: Array("recovered-".utf8) + name.bytes), to: inbox)
        recovery.returned.append(back)
      }
    }
    for state in JobState.allCases { try folder(state).sync() }
    try damaged.sync()
    try requests.sync()
    if !recovery.returned.isEmpty { try inbox.sync() }
    return recovery
  }

  /// Writes a job rebuilt by recovery (its status file was damaged) into its state, durably, with
  /// `request` as its request copy when the copy is gone too.
  public func restore(_ job: Job, request: [UInt8]? = nil) throws {
    let file = Spool.fileName(job.id)
    if let request { try AtomicWriter.write(request, to: file, in: requests, mode: 0o600) }
    try AtomicWriter.write(Spool.encode(job.record), to: file, in: folder(job.state), mode: 0o600)
  }

  /// A request copy written anew for a job whose copy was lost: its request as the record keeps it.
  static func requestCopy(of record: JobRecord) -> [UInt8] {
    guard let request = record.request, let data = try? JSONEncoder().encode(request) else { return [] }
    return Array(data)
  }

  /// A status file's content (``JobRecord/json``).
  static func encode(_ record: JobRecord) -> [UInt8] { record.json }
}
