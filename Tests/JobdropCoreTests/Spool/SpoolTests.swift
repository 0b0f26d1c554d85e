import Foundation
import JobdropCrypto
import Testing

@testable import JobdropExport
@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct SpoolTests {
  func claimOne(_ directory: TemporaryDirectory, _ spool: Spool) throws -> (Job, Inbox) {
    let inbox = try Inbox(path: directory.file("inbox"))
    let bytes = #"{"data":{"type":"job","job_type":"order_export"}}"#
    let record = JobRecord(
      id: JobID.make(), requestFile: "a.json", jobType: "order_export",
      request: ExportRequest(jobType: "order_export"),
      createdAt: .now())
    try spool.claim(record, state: .pending, bytes: Array(bytes.utf8))
    return (Job(record: record, state: .pending), inbox)
  }

  func identity(_ directory: TemporaryDirectory, _ name: String) -> FileIdentity {
    var info = stat()
    lstat(directory.file(name), &info)
    return FileIdentity(info)
  }

  /// Recovery as the lock's holder does it, with the jobs it handed on.
  func recover(_ directory: TemporaryDirectory, _ spool: Spool) throws -> (
    jobs: [Job], damaged: [Spool.Damaged], returned: [FileName]
  ) {
    let lock = try spool.lock()
    let inbox = try Inbox(path: directory.file("inbox"))
    var jobs: [Job] = []
    let recovery = try spool.recover(lock, returningRequestsTo: inbox.directory) { jobs.append($0) }
    return (jobs, recovery.damaged, recovery.returned)
  }

  @Test func claimKeepsACopyOfTheRequestAndCreatesOnePendingStatusFile() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    let (job, _) = try claimOne(directory, spool)
    #expect(directory.list("spool/pending") == ["\(job.id).json"])
    #expect(directory.list("spool/requests") == ["\(job.id).json"])
    #expect(String(decoding: spool.requestBytes(of: job.id)!, as: UTF8.self).contains("order_export"))
    #expect(try spool.reader.snapshot().jobs == [job])
    #expect(try recover(directory, spool).jobs == [job])
  }

  @Test func movesFollowTheStateMachineOnDisk() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    var (job, _) = try claimOne(directory, spool)
    job = try spool.move(job, to: .started, record: job.record)
    #expect(directory.list("spool/pending") == [])
    #expect(directory.list("spool/started") == ["\(job.id).json"])
    #expect(throws: IllegalTransition(id: job.id, from: .started, to: .started)) {
      try spool.move(job, to: .started, record: job.record)
    }
    var record = job.record
    record.rows = 42
    job = try spool.move(job, to: .success, record: record)
    #expect(try recover(directory, spool).jobs == [Job(record: record, state: .success)])
    #expect(throws: IllegalTransition(id: job.id, from: .success, to: .pending)) {
      try spool.move(job, to: .pending, record: job.record)
    }
    #expect(directory.list("spool/success") == ["\(job.id).json"])
  }

  @Test func dropsARequestCopyWhoseStatusFileWasNeverWrittenAndKeepsAJobWhoseCopyWasLost() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    _ = try Inbox(path: directory.file("inbox"))
    directory.write("{}", to: "inbox/a.json")
    // As if the process died after writing the request's copy but before the status file.
    let id = JobID.make()
    directory.write("{}", to: "spool/requests/\(id).json")
    let id2 = JobID.make()
    let record = JobRecord(id: id2, requestFile: "b.json", jobType: "", request: nil, createdAt: .now())
    directory.write(
      String(decoding: Spool.encode(record), as: UTF8.self), to: "spool/pending/\(id2).json")
    #expect(try spool.reader.snapshot().jobs.isEmpty)
    #expect(directory.list("spool/requests") == ["\(id).json"], "a reader removes nothing")
    // The unfinished claim's copy goes; the job whose copy was deleted (a claim writes the copy first, so
    // no crash leaves this) is kept, its copy written anew from its record.
    #expect(try recover(directory, spool).jobs == [Job(record: record, state: .pending)])
    #expect(directory.list("spool/requests") == ["\(id2).json"])
    #expect(directory.list("spool/pending") == ["\(id2).json"])
    #expect(directory.list("inbox") == ["a.json"], "the request is still there to be claimed")
  }

  @Test func removesARequestLeftWithoutAStatusFileAndQuarantinesDamagedOnesKeepingTheirRequests() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    let orphan = JobID.make()
    directory.write("{}", to: "spool/requests/\(orphan).json")
    let corrupt = JobID.make()
    directory.write(#"{"data":{}}"#, to: "spool/requests/\(corrupt).json")
    directory.write("not json", to: "spool/failed/\(corrupt).json")
    let empty = JobID.make()
    directory.write("{}", to: "spool/requests/\(empty).json")
    directory.write("", to: "spool/pending/\(empty).json")
    directory.write("x", to: "spool/success/.tmp-1-2-x.json")
    let snapshot = try spool.reader.snapshot()
    #expect(snapshot.jobs.isEmpty)
    #expect(snapshot.damaged.count == 2)
    let recovery = try recover(directory, spool)
    #expect(recovery.jobs.isEmpty)
    #expect(recovery.damaged.map(\.path).sorted() == snapshot.damaged.sorted())
    #expect(recovery.damaged.map(\.id).sorted() == [corrupt, empty].sorted())
    let requests = Dictionary(uniqueKeysWithValues: recovery.damaged.map { ($0.id, $0.request) })
    #expect(requests[corrupt] == Array(#"{"data":{}}"#.utf8), "the request copy, for the job's rebuilding")
    #expect(requests[empty] == Array("{}".utf8))
    #expect(directory.list("spool/requests") == ["\(corrupt).json", "\(empty).json"].sorted())
    #expect(directory.list("spool/failed") == [])
    #expect(directory.list("spool/success") == [])
    #expect(directory.list("spool/damaged") == ["\(corrupt).json", "\(empty).json"].sorted())
    #expect(directory.list("inbox") == [], "nothing goes back to the inbox to become a second job")
  }

  @Test func aMoveWritesTheNewRecordBeforeItRetiresTheOldOneAndTheLaterStateWins() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    var (job, _) = try claimOne(directory, spool)
    job = try spool.move(job, to: .started, record: job.record)
    var record = job.record
    record.rows = 7
    record.fileName = "x.csv"
    // As if the process died between the two steps of started → success: both files are there.
    directory.write(
      String(decoding: Spool.encode(record), as: UTF8.self), to: "spool/success/\(job.id).json")
    let done = Job(record: record, state: .success)
    #expect(try spool.reader.snapshot().jobs == [done])
    #expect(spool.reader.job(id: job.id) == done)
    #expect(try recover(directory, spool).jobs == [done])
    #expect(directory.list("spool/started") == [])
    #expect(directory.list("spool/success") == ["\(job.id).json"])
  }

  /// A job started inside a group is started in memory; its `started` record is written by its first
  /// update, which retires the `pending` file: a job has one status file once its start is on disk.
  @Test func aStartWrittenByAnUpdateRetiresThePendingFileOfAJobStartedInMemory() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    func startInMemory(_ job: Job) throws -> Job {
      try spool.check(job, to: .started)
      var record = job.record
      record.attempts += 1
      return Job(record: record, state: .started)
    }
    // Ended by a group's commit: both earlier files are retired.
    let (claimed, _) = try claimOne(directory, spool)
    let job = try startInMemory(claimed)
    #expect(directory.list("spool/pending") == ["\(job.id).json"])
    try spool.update(job)
    #expect(directory.list("spool/pending") == [])
    #expect(directory.list("spool/started") == ["\(job.id).json"])
    #expect(try spool.reader.snapshot().jobs == [job])
    #expect(spool.reader.job(id: job.id) == job)
    var record = job.record
    record.rows = 3
    let done = try spool.commitMoves([(job, .success, record)], alsoFlush: [])
    #expect(directory.list("spool/pending") == [])
    #expect(directory.list("spool/started") == [])
    #expect(try recover(directory, spool).jobs == done)

    // Ended before its start was written: its pending file goes.
    let (quick, _) = try claimOne(directory, spool)
    let ended = try spool.commitMoves([(try startInMemory(quick), .failed, quick.record)], alsoFlush: [])
    #expect(directory.list("spool/pending") == [])
    #expect(spool.reader.job(id: quick.id) == ended.first)

    // Sent back to pending (shutdown, a retry): the pending file holds the new record.
    let (other, _) = try claimOne(directory, spool)
    let running = try startInMemory(other)
    try spool.update(running)
    var again = running.record
    again.retryAt = Timestamp.now().adding(seconds: 5)
    let back = try spool.move(running, to: .pending, record: again)
    #expect(directory.list("spool/pending") == ["\(other.id).json"])
    #expect(directory.list("spool/started") == [])
    #expect(spool.reader.job(id: other.id) == back)

    // Ended by a move of its own: the same as a group's commit.
    let (third, _) = try claimOne(directory, spool)
    let started = try startInMemory(third)
    try spool.update(started)
    #expect(directory.list("spool/pending") == ["\(other.id).json"])
    let failed = try spool.move(started, to: .failed, record: started.record)
    #expect(directory.list("spool/pending") == ["\(other.id).json"])
    #expect(directory.list("spool/started") == [])
    #expect(spool.reader.job(id: third.id) == failed)
  }

  @Test func retiringDeletesOnlyTheClaimedFileWithTheClaimedBytes() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    let inbox = try Inbox(path: directory.file("inbox"))
    func claim(_ text: String) throws -> InboxClaim {
      guard case .file(let bytes, _, let pin) = try inbox.read(FileName("a.json")) else {
        throw FileSystemError(operation: "read", path: "a.json", errno: ENOENT)
      }
      #expect(String(decoding: bytes, as: UTF8.self) == text)
      return InboxClaim(
        jobID: JobID.make(), name: FileName("a.json"), identity: pin.identity,
        sha256: SHA256Digest.hex(of: bytes))
    }
    directory.write("one", to: "inbox/a.json")
    let first = try claim("one")
    #expect(spool.retire(FileName("a.json"), from: inbox.directory, as: first) == .retired)
    #expect(directory.list("inbox") == [])
    #expect(spool.retire(FileName("a.json"), from: inbox.directory, as: first) == .gone)

    // Replaced by a rename: another file, a new upload.
    directory.write("two", to: "inbox/a.json")
    let second = try claim("two")
    directory.write("three", to: "inbox/a.json.part")
    #expect(rename(directory.file("inbox/a.json.part"), directory.file("inbox/a.json")) == 0)
    #expect(
      spool.retire(FileName("a.json"), from: inbox.directory, as: second) == .newUpload(FileName("a.json")))
    #expect(directory.read("inbox/a.json") == "three")

    // Rewritten in place: the same file with other bytes, a new upload too.
    let third = try claim("three")
    directory.write("four", to: "inbox/a.json")
    #expect(
      spool.retire(FileName("a.json"), from: inbox.directory, as: third) == .newUpload(FileName("a.json")))
    #expect(directory.read("inbox/a.json") == "four")
    #expect(directory.list("spool/retiring") == [])
  }

  @Test func aSecondLockOnTheSameSpoolIsRefused() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    let lock = try spool.lock()
    let other = try Spool(path: directory.file("spool"))
    #expect(throws: SpoolLockError.self) { try other.lock() }
    withExtendedLifetime(lock) {}
  }

  @Test func spoolFoldersArePrivate() throws {
    let directory = TemporaryDirectory()
    _ = try Spool(path: directory.file("spool"))
    for folder in ["spool", "spool/pending", "spool/requests"] {
      let attributes = try FileManager.default.attributesOfItem(atPath: directory.file(folder))
      #expect((attributes[.posixPermissions] as? Int) == 0o700)
    }
  }

  @Test func jobIDsAreLowercaseUUIDv4() {
    let ids = (0..<100).map { _ in JobID.make() }
    #expect(Set(ids).count == 100)
    for id in ids {
      #expect(JobID.isValid(id))
      #expect(Array(id)[14] == "4")
      #expect("89ab".contains(Array(id)[19]))
    }
    #expect(!JobID.isValid("../../etc/passwd"))
  }
}
