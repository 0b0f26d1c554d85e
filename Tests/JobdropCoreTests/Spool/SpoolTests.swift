import Foundation
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

@Suite struct SpoolTests {
  func claimOne(_ directory: TemporaryDirectory, _ spool: Spool) throws -> (Job, Inbox) {
    let inbox = try Inbox(path: directory.file("inbox"))
    directory.write(#"{"data":{"type":"job","job_type":"order_export"}}"#, to: "inbox/a.json")
    let record = JobRecord(
      id: JobID.make(), requestFile: "a.json", jobType: "order_export",
      request: ExportRequest(jobType: "order_export"),
      createdAt: .now())
    try spool.claim(
      FileName("a.json"), from: inbox.directory, as: record, state: .pending,
      identity: identity(directory, "inbox/a.json"))
    return (Job(record: record, state: .pending), inbox)
  }

  func identity(_ directory: TemporaryDirectory, _ name: String) -> FileIdentity {
    var info = stat()
    lstat(directory.file(name), &info)
    return FileIdentity(info)
  }

  /// Recovery as the lock's holder does it.
  func recover(_ directory: TemporaryDirectory, _ spool: Spool) throws -> Spool.Recovery {
    let lock = try spool.lock()
    let inbox = try Inbox(path: directory.file("inbox"))
    return try spool.recover(lock, returningRequestsTo: inbox.directory)
  }

  @Test func claimMovesTheRequestAndCreatesOnePendingStatusFile() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    let (job, _) = try claimOne(directory, spool)
    #expect(directory.list("inbox") == [])
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

  @Test func dropsAStatusFileWhoseRequestNeverLeftTheInbox() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    _ = try Inbox(path: directory.file("inbox"))
    directory.write("{}", to: "inbox/a.json")
    // As if the process died after writing the status file but before renaming the request.
    let id = JobID.make()
    let record = JobRecord(id: id, requestFile: "a.json", jobType: "", request: nil, createdAt: .now())
    directory.write(String(decoding: try Spool.encode(record), as: UTF8.self), to: "spool/pending/\(id).json")
    #expect(try spool.reader.snapshot().jobs.isEmpty)
    #expect(directory.list("spool/pending") == ["\(id).json"], "a reader removes nothing")
    #expect(try recover(directory, spool).jobs.isEmpty)
    #expect(directory.list("spool/pending") == [])
    #expect(directory.list("inbox") == ["a.json"])
  }

  @Test func removesARequestLeftWithoutAStatusFileAndQuarantinesDamagedOnesRunningTheirRequestAgain() throws {
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
    #expect(recovery.quarantined.map(\.path).sorted() == snapshot.damaged.sorted())
    #expect(directory.list("spool/requests") == [])
    #expect(directory.list("spool/failed") == [])
    #expect(directory.list("spool/success") == [])
    #expect(directory.list("spool/damaged") == ["\(corrupt).json", "\(empty).json"].sorted())
    #expect(directory.list("inbox") == ["recovered-\(corrupt).json", "recovered-\(empty).json"].sorted())
    #expect(directory.read("inbox/recovered-\(corrupt).json") == #"{"data":{}}"#)
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
      String(decoding: try Spool.encode(record), as: UTF8.self), to: "spool/success/\(job.id).json")
    let done = Job(record: record, state: .success)
    #expect(try spool.reader.snapshot().jobs == [done])
    #expect(spool.reader.job(id: job.id) == done)
    #expect(try recover(directory, spool).jobs == [done])
    #expect(directory.list("spool/started") == [])
    #expect(directory.list("spool/success") == ["\(job.id).json"])
  }

  @Test func aClaimTakesNothingWhenTheRequestLeftOrWasReplaced() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    let inbox = try Inbox(path: directory.file("inbox"))
    let record = JobRecord(
      id: JobID.make(), requestFile: "a.json", jobType: "", request: nil, createdAt: .now())
    directory.write("old", to: "inbox/a.json")
    // Read as the intake reads it: the read keeps the old file pinned until the claim is done.
    guard case .file(_, _, let old) = try inbox.read(FileName("a.json")) else {
      Issue.record("not read as a file")
      return
    }
    try FileManager.default.removeItem(atPath: directory.file("inbox/a.json"))
    #expect(throws: ClaimError.gone(FileName("a.json"))) {
      try spool.claim(
        FileName("a.json"), from: inbox.directory, as: record, state: .pending, identity: old.identity)
    }
    #expect(directory.list("spool/pending") == [])
    directory.write("new", to: "inbox/a.json.part")
    try FileManager.default.moveItem(
      atPath: directory.file("inbox/a.json.part"), toPath: directory.file("inbox/a.json"))
    #expect(throws: ClaimError.replaced(FileName("a.json"))) {
      try spool.claim(
        FileName("a.json"), from: inbox.directory, as: record, state: .pending, identity: old.identity)
    }
    withExtendedLifetime(old) {}
    #expect(directory.list("spool/pending") == [])
    #expect(directory.list("spool/requests") == [])
    #expect(directory.read("inbox/a.json") == "new", "the new upload is back in the inbox, untouched")
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
