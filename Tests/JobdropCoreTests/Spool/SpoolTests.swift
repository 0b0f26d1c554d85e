import Foundation
import Testing

@testable import JobdropCore

@Suite struct SpoolTests {
  func claimOne(_ directory: TemporaryDirectory, _ spool: Spool) throws -> (Job, Inbox) {
    let inbox = try Inbox(path: directory.file("inbox"))
    directory.write(#"{"data":{"type":"job","job_type":"order_export"}}"#, to: "inbox/a.json")
    let record = JobRecord(
      id: JobID.make(), requestFile: "a.json", jobType: "order_export",
      request: ExportRequest(jobType: "order_export"),
      createdAt: .now())
    try spool.claim(FileName("a.json"), from: inbox.directory, as: record, state: .pending)
    return (Job(record: record, state: .pending), inbox)
  }

  @Test func claimMovesTheRequestAndCreatesOnePendingStatusFile() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    let (job, _) = try claimOne(directory, spool)
    #expect(directory.list("inbox") == [])
    #expect(directory.list("spool/pending") == ["\(job.id).json"])
    #expect(directory.list("spool/requests") == ["\(job.id).json"])
    #expect(String(decoding: spool.requestBytes(of: job.id)!, as: UTF8.self).contains("order_export"))
    let loaded = try spool.load()
    #expect(loaded == [job])
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
    #expect(try spool.load().first == Job(record: record, state: .success))
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
    #expect(try spool.load().isEmpty)
    #expect(directory.list("spool/pending") == [])
    #expect(directory.list("inbox") == ["a.json"])
  }

  @Test func removesARequestLeftWithoutAStatusFileButKeepsUnreadableStatusFiles() throws {
    let directory = TemporaryDirectory()
    let spool = try Spool(path: directory.file("spool"))
    let orphan = JobID.make()
    directory.write("{}", to: "spool/requests/\(orphan).json")
    let corrupt = JobID.make()
    directory.write("{}", to: "spool/requests/\(corrupt).json")
    directory.write("not json", to: "spool/failed/\(corrupt).json")
    directory.write("x", to: "spool/success/.tmp-1-2-x.json")
    #expect(try spool.load().isEmpty)
    #expect(directory.list("spool/requests") == ["\(corrupt).json"])
    #expect(directory.list("spool/failed") == ["\(corrupt).json"])
    #expect(directory.list("spool/success") == [])
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
