import Foundation
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct OutboxTests {
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
    try outbox.remove(id: newer.id, created: newer.record.createdAt)
    #expect(directory.list("jobs") == ["\(older.id).json"])
    #expect(!directory.list("requests").contains("a.json"), "the removed job's document is gone")
  }

  /// The `requests/` document is a second name of `jobs/<id>.json`: each change replaces both names at
  /// once, and a reader that opened the previous document still reads it whole.
  @Test func aRequestDocumentIsTheJobDocumentUnderASecondNameReplacedAtomically() throws {
    let directory = TemporaryDirectory()
    let outbox = try Outbox(path: directory.path, links: OutboxLinks(baseURL: nil), ttl: 60)
    var job = job("a.json", created: 1_000)
    job.record.requestAliases = ["again.json"]
    try outbox.publish(job)
    let pending = try #require(directory.read("jobs/\(job.id).json"))
    #expect(pending.contains(#""status":"pending""#))
    let reader = try #require(FileHandle(forReadingAtPath: directory.file("requests/a.json")))
    job.state = .success
    try outbox.publish(job)
    let success = try #require(directory.read("jobs/\(job.id).json"))
    #expect(success.contains(#""status":"success""#))
    #expect(directory.read("requests/a.json") == success)
    #expect(directory.read("requests/again.json") == success)
    func inode(_ path: String) -> ino_t {
      var info = stat()
      return lstat(directory.file(path), &info) == 0 ? info.st_ino : 0
    }
    #expect(inode("requests/a.json") == inode("jobs/\(job.id).json"))
    #expect(inode("requests/again.json") == inode("jobs/\(job.id).json"))
    #expect(String(decoding: reader.readDataToEndOfFile(), as: UTF8.self) == pending)
    #expect(directory.list("requests") == ["a.json", "again.json"], "no temp names left")
    // Republished at start-up, unchanged: nothing is replaced.
    let before = inode("requests/a.json")
    try outbox.publish(job, unlessUnchanged: true)
    #expect(inode("requests/a.json") == before)
    #expect(directory.list("requests") == ["a.json", "again.json"])
  }

  @Test func theIndexListsJobsNewestFirstWhateverOrderTheyArePublishedAndRemovedIn() throws {
    let directory = TemporaryDirectory()
    let outbox = try Outbox(path: directory.path, links: OutboxLinks(baseURL: nil), ttl: 60)
    // Two jobs created in the same millisecond are ordered by id.
    let jobs = [5, 1, 3, 3, 9, 2, 7].enumerated().map {
      job("r\($0.offset).json", created: Int64($0.element))
    }
    for job in jobs { try outbox.publish(job) }
    var finished = jobs[2]
    finished.state = .success
    try outbox.publish(finished)  // a change keeps the job's place and its one entry
    try outbox.remove(id: jobs[4].id, created: jobs[4].record.createdAt)
    try outbox.remove(id: jobs[1].id, created: jobs[1].record.createdAt)
    try outbox.remove(id: jobs[1].id, created: jobs[1].record.createdAt)  // twice: nothing more
    let late = job("late.json", created: 4)
    try outbox.publish(late)  // neither the newest nor the oldest
    try outbox.publishIndex()

    let index =
      try JSONSerialization.jsonObject(with: Data(directory.read("index.json")!.utf8)) as! [String: Any]
    let listed = (index["data"] as! [[String: Any]]).map { ($0["id"] as! String, $0["status"] as! String) }
    let expected = (jobs.filter { $0.id != jobs[4].id && $0.id != jobs[1].id } + [late])
      .sorted { ($0.record.createdAt, $0.id) > ($1.record.createdAt, $1.id) }
      .map { ($0.id, $0.id == finished.id ? "success" : "pending") }
    #expect(listed.map(\.0) == expected.map(\.0))
    #expect(listed.map(\.1) == expected.map(\.1))
    let page = directory.read("index.html") ?? ""
    #expect(page.contains(#"<p id="summary">6 jobs: 5 pending, 0 started, 1 success, 0 failed."#))
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
