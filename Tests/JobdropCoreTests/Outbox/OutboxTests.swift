import Foundation
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

@Suite struct OutboxTests {
  func job(_ name: String, created: Int64, state: JobState = .pending) -> Job {
    Job(
      record: JobRecord(
        id: JobID.make(), requestFile: name, jobType: "order_export", request: nil,
        createdAt: Timestamp(milliseconds: created)),
      state: state)
  }

  @Test func theRequestDocumentShowsTheNewestJobOfAName() throws {
    let directory = TemporaryDirectory()
    let outbox = try Outbox(path: directory.path, links: OutboxLinks(baseURL: nil), ttl: 60)
    let newer = job("a.json", created: 2_000)
    let older = job("a.json", created: 1_000, state: .failed)
    try outbox.publish(newer)
    try outbox.publish(older)
    #expect(directory.read("requests/a.json")?.contains(newer.id) == true)
    try outbox.remove(id: newer.id)
    #expect(directory.list("jobs") == ["\(older.id).json"])
    #expect(!directory.list("requests").contains("a.json"), "the removed job's document is gone")
  }

  @Test func anEmptyFilesFolderIsRemovedAndAFullOneKept() throws {
    let directory = TemporaryDirectory()
    let outbox = try Outbox(path: directory.path, links: OutboxLinks(baseURL: nil), ttl: 60)
    let empty = JobID.make()
    let full = JobID.make()
    _ = try outbox.filesDirectory(for: empty)
    _ = try outbox.filesDirectory(for: full)
    directory.write("x", to: "files/\(full)/x.csv")
    outbox.removeEmptyFilesDirectory(for: empty)
    outbox.removeEmptyFilesDirectory(for: full)
    #expect(directory.list("files") == [full])
  }

  @Test func temporaryFilesOfAKilledProcessAreRemovedAtStart() throws {
    let directory = TemporaryDirectory()
    let outbox = try Outbox(path: directory.path, links: OutboxLinks(baseURL: nil), ttl: 60)
    let id = JobID.make()
    try FileManager.default.createDirectory(
      atPath: directory.file("jobs/\(id)"), withIntermediateDirectories: true)
    directory.write("x", to: "jobs/\(id)/.tmp-1-2-file.json")
    directory.write("x", to: ".tmp-1-3-index.json")
    try outbox.removeTemporaryFiles()
    try outbox.removeTemporaryFiles(job: id)
    #expect(directory.list("jobs/\(id)") == [])
    #expect(!directory.list("").contains(".tmp-1-3-index.json"))
  }
}
