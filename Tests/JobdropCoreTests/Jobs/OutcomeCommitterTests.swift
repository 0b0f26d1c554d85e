import Logging
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

/// Outcomes made durable in groups: a staged outcome is in the spool and the outbox once flushed, a job
/// started without a sync shows `started` once it has run long enough, and a stop commits what waits.
@Suite(.timeLimit(.minutes(10))) struct OutcomeCommitterTests {
  @Test func stagedOutcomesAreCommittedTogetherAndPublished() throws {
    let setup = try JobStoreTests.Setup()
    let committer = OutcomeCommitter(store: setup.store, logger: Logger(label: "test"))
    defer { committer.stop() }
    var started: [Job] = []
    for name in ["a.json", "b.json", "c.json"] {
      _ = try setup.claim(name)
      let job = try #require(try setup.store.startNextPending(durable: false))
      try committer.started(job)
      started.append(job)
    }
    #expect(setup.directory.list("spool/started").isEmpty, "started in memory only")
    for (index, job) in started.enumerated() {
      var record = job.record
      record.rows = index
      committer.stage(job, to: index == 2 ? .failed : .success, record: record, export: nil)
    }
    try committer.flush()
    #expect(setup.directory.list("spool/success").count == 2)
    #expect(setup.directory.list("spool/failed").count == 1)
    #expect(setup.directory.list("spool/pending").isEmpty, "the pending files are retired")
    #expect(setup.store.job(id: started[0].id)?.state == .success)
    #expect(
      setup.directory.read("outbox/jobs/\(started[2].id).json")?.contains(#""status":"failed""#) == true)
  }

  @Test func aJobRunningPastTheConfirmationTimeShowsStarted() throws {
    let setup = try JobStoreTests.Setup()
    let committer = OutcomeCommitter(store: setup.store, logger: Logger(label: "test"))
    defer { committer.stop() }
    _ = try setup.claim("slow.json")
    let job = try #require(try setup.store.startNextPending(durable: false))
    try committer.started(job)
    // Its start is written (which retires its pending file), then its document shows it.
    let waiter = ChangeWaiterLite(path: setup.directory.file("outbox/jobs"))
    #expect(
      waiter.wait {
        setup.directory.read("outbox/jobs/\(job.id).json")?.contains(#""status":"started""#) == true
      })
    #expect(setup.directory.list("spool/started") == ["\(job.id).json"])
    #expect(setup.directory.list("spool/pending").isEmpty)
  }

  @Test func aStopCommitsWhatWaits() throws {
    let setup = try JobStoreTests.Setup()
    let committer = OutcomeCommitter(store: setup.store, logger: Logger(label: "test"))
    _ = try setup.claim("a.json")
    let job = try #require(try setup.store.startNextPending(durable: false))
    try committer.started(job)
    committer.stage(job, to: .success, record: job.record, export: nil)
    committer.stop()
    #expect(setup.directory.list("spool/success") == ["\(job.id).json"])
  }
}

/// Waits (up to 10 s) for a condition on a folder, looking again each time the folder changes.
struct ChangeWaiterLite {
  let path: String

  func wait(_ condition: () -> Bool) -> Bool {
    guard let watcher = try? DirectoryWatcher(directories: [path], mask: [.movedTo, .create]) else {
      return false
    }
    let deadline = ConditionLock.monotonicMilliseconds() + 10_000
    while ConditionLock.monotonicMilliseconds() < deadline {
      if condition() { return true }
      _ = try? watcher.next(timeoutSeconds: 1)
    }
    return condition()
  }
}
