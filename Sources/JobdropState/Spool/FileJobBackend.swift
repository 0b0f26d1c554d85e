import JobdropSystem

/// Jobs kept in this machine's spool folders (``Spool``): the default backend.
public struct FileJobBackend: JobBackend {
  public let spool: Spool

  public init(spool: Spool) { self.spool = spool }

  public var node: String? { nil }
  public var picksNextJob: Bool { false }
  public var isShared: Bool { false }

  public func recover(
    _ lock: SpoolLock, inbox: Inbox, now: Timestamp, each: (_ job: Job, _ cutShort: Bool) throws -> Void
  ) throws -> Spool.Recovery {
    // A started job is moved only once the whole spool is read: recovery hands each job on as it reads it.
    var cutShort: [Job] = []
    let recovery = try spool.recover(lock, returningRequestsTo: inbox.directory) { job in
      if job.state == .started { cutShort.append(job) } else { try each(job, false) }
    }
    for job in cutShort {
      var (target, record) = JobTransitions.afterCrash(job)
      record.updatedAt = now
      try each(try spool.move(job, to: target, record: record), true)
      CrashPoint.reached("recovery-cut-short")
    }
    return recovery
  }

  public func claim(_ claim: PostgresSpool.Claim) throws -> Job {
    try spool.claim(claim.record, state: claim.state, bytes: claim.bytes)
    return Job(record: claim.record, state: claim.state)
  }

  public func stage(_ claim: PostgresSpool.Claim, into group: ClaimGroup) throws {
    try spool.stageClaim(claim.record, state: claim.state, bytes: claim.bytes, in: &group.writes)
  }

  public func commitClaims(_ group: ClaimGroup) throws -> [String: Job] {
    try group.writes.commit()
    return [:]
  }

  public func discardClaims(_ group: ClaimGroup) {
    group.writes.discard()
    // The files a partial commit renamed into place.
    for (job, _) in group.jobs { try? spool.remove(job.id, in: job.state) }
  }

  public func claimNext(now: Timestamp, durable: Bool, modify: (JobRecord) -> JobRecord) throws -> Job? {
    nil
  }

  public func move(_ job: Job, to target: JobState, record: JobRecord, durable: Bool) throws -> Job {
    guard durable else {
      try spool.check(job, to: target)
      return Job(record: record, state: target)
    }
    return try spool.move(job, to: target, record: record)
  }

  public func commitMoves(
    _ moves: [(job: Job, target: JobState, record: JobRecord)], alsoFlush: [UnsyncedFile]
  ) throws -> [Job?] {
    try spool.commitMoves(moves, alsoFlush: alsoFlush)
  }

  public func update(_ job: Job) throws -> Bool {
    try spool.update(job)
    return false
  }

  public func retire(_ id: String, from state: JobState) { spool.retire(id, from: state) }

  public func requestCancel(_ job: Job) throws { try spool.update(job) }

  public func job(id: String, state: JobState) -> Job? {
    if case .record(let record) = spool.reader.read(Spool.fileName(id), in: spool.folder(state)) {
      return Job(record: record, state: state)
    }
    return spool.reader.job(id: id)
  }

  public func remove(_ id: String, in state: JobState) throws { try spool.remove(id, in: state) }

  public func changes() throws -> (jobs: [Job], cancelled: Set<String>) { ([], []) }
  public func everyJob(_ each: (Job) -> Void) throws {}
  public func holdsIndexLock() -> Bool { true }
  public func reapLapsedLeases(now: Timestamp) throws -> [Job] { [] }
}
