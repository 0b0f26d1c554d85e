import Foundation
import JobdropState
import Testing

/// `jobdrop run` end to end: the real binary watching a real inbox.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DaemonTests {
  /// Writes `text` to `path` in place, as OpenSSH `put` does.
  static func writeInPlace(_ text: String, _ path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
  }

  @Test func takesRequestsDroppedTheThreeWaysSFTPClientsDo() throws {
    let sandbox = try Sandbox(orders: 500)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--grace", "0"])
    let request = Sandbox.request(filter: "eq(payment,paid)")
    // 1. Written in place (IN_CLOSE_WRITE).
    DaemonTests.writeInPlace(request, sandbox.inbox + "/in-place.json")
    // 2. Written as .filepart, then renamed (IN_MOVED_TO), as WinSCP does.
    DaemonTests.writeInPlace(request, sandbox.inbox + "/renamed.json.filepart")
    try FileManager.default.moveItem(
      atPath: sandbox.inbox + "/renamed.json.filepart", toPath: sandbox.inbox + "/renamed.json")
    // 3. Hard link, then unlink (IN_CREATE only), as OpenSSH's plain SFTP rename does.
    DaemonTests.writeInPlace(request, sandbox.inbox + "/linked.json.part")
    try FileManager.default.linkItem(
      atPath: sandbox.inbox + "/linked.json.part", toPath: sandbox.inbox + "/linked.json")
    try FileManager.default.removeItem(atPath: sandbox.inbox + "/linked.json.part")

    let names = ["in-place.json", "renamed.json", "linked.json"]
    let done = waiter.wait {
      let jobs = sandbox.jobsByFile()
      return names.allSatisfy { jobs[$0]?.first?["status"] as? String == "success" }
    }
    #expect(done, "not all requests succeeded; log:\n\(daemon.log)")
    let expected = try sandbox.query("SELECT id FROM orders WHERE payment = 'paid'").count
    let jobs = sandbox.jobsByFile()
    for name in names {
      #expect(jobs[name]?.count == 1, "\(name) should be exactly one job")
      #expect((jobs[name]?.first?["meta"] as? [String: Any])?["rows"] as? Int == expected)
    }
    #expect(
      try ChangeWaiter(folders: [sandbox.inbox]).wait { sandbox.list("inbox").isEmpty },
      "claimed files leave the inbox")
    #expect(waiter.wait { (try? sandbox.index().count) == 3 })
    // An operator's `top -H` or `ps -L` tells the daemon's threads apart.
    let threads = Set(
      (try FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/task")).compactMap {
        try? String(contentsOfFile: "/proc/\(daemon.pid)/task/\($0)/comm", encoding: .utf8)
          .trimmingCharacters(in: .whitespacesAndNewlines)
      })
    #expect(
      threads.isSuperset(of: [
        "jobdrop-watch", "jobdrop-intake", "jobdrop-run-0", "jobdrop-commit", "jobdrop-outbox",
      ]),
      "threads: \(threads.sorted())")
    #expect(daemon.stop() == 0)
    #expect(daemon.log.contains("jobdrop stopped"))
  }

  @Test func picksUpWhatArrivedWhileItWasDownAndFailsCutShortRequestsAfterSettling() throws {
    let sandbox = try Sandbox(orders: 100)
    sandbox.drop("waiting.json", Sandbox.request())
    sandbox.drop("cut.json", #"{"data": {"type": "job", "#)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--settle", "300ms"])
    let done = waiter.wait {
      let jobs = sandbox.jobsByFile()
      return jobs["waiting.json"]?.first?["status"] as? String == "success"
        && jobs["cut.json"]?.first?["status"] as? String == "failed"
    }
    #expect(done, "log:\n\(daemon.log)")
    let cut = sandbox.jobsByFile()["cut.json"]?.first
    #expect(
      (cut?["error"] as? String)?.hasPrefix("request is not valid JSON: unexpected end of input") == true)
    #expect(daemon.stop(SIGINT) == 0)
  }

  @Test func aSecondRunOnTheSameSpoolSaysSoAndExitsNonZero() throws {
    let sandbox = try Sandbox(orders: 10)
    let waiter = try ChangeWaiter(folders: [sandbox.spool])
    let daemon = try RunningDaemon(sandbox)
    #expect(
      waiter.wait {
        FileManager.default.fileExists(atPath: sandbox.spool + "/lock")
          && daemon.log.contains("jobdrop running")
      })
    let second = try sandbox.run(["run"] + sandbox.paths)
    #expect(second.status != 0)
    #expect(second.stderr.contains("is already working the spool"))
    #expect(daemon.stop() == 0)
  }

  @Test func killedMidExportTheJobRunsAgainOnceWithEveryRowAndNoPartialFileIsVisible() throws {
    let sandbox = try Sandbox(orders: 200_000)
    let waiter = try sandbox.outboxWaiter()
    sandbox.drop("big.json", Sandbox.request())
    let first = try RunningDaemon(sandbox)
    #expect(
      waiter.wait { sandbox.jobsByFile()["big.json"]?.first?["status"] as? String == "started" },
      "log:\n\(first.log)")
    let id = try #require(sandbox.jobsByFile()["big.json"]?.first?["id"] as? String)
    first.stop(SIGKILL)
    // Whatever the kill left, nothing but dotfiles (temp files) may be in the job's files folder.
    #expect(sandbox.list("outbox/files/\(id)").allSatisfy { $0.hasPrefix(".") })
    #expect(sandbox.list("spool/started") == ["\(id).json"])

    let second = try RunningDaemon(sandbox)
    #expect(
      waiter.wait { sandbox.jobsByFile()["big.json"]?.first?["status"] as? String == "success" },
      "log:\n\(second.log)")
    #expect(second.stop() == 0)
    let jobs = try sandbox.index()
    #expect(jobs.count == 1)
    let job = jobs[0]
    #expect((job["meta"] as? [String: Any])?["rows"] as? Int == 200_000)
    let rows = try sandbox.csv(of: job)
    #expect(rows.count == 200_001)
    #expect(Set(rows.dropFirst().map { $0[0] }).count == 200_000)
    #expect(sandbox.list("outbox/files/\(id)").count == 1)
    #expect(second.log.contains("job was cut short; it will run again"))
  }

  @Test func publishesProgressWhileStartedAndSigtermPutsTheJobBackToPending() throws {
    let sandbox = try Sandbox(orders: 200_000)
    let waiter = try sandbox.outboxWaiter()
    sandbox.drop("big.json", Sandbox.request())
    let daemon = try RunningDaemon(sandbox)
    // While the export runs, meta.rows counts the rows written so far (updated about once a second).
    let progressed = waiter.wait {
      guard let job = sandbox.jobsByFile()["big.json"]?.first else { return false }
      let rows = (job["meta"] as? [String: Any])?["rows"] as? Int ?? 0
      let status = job["status"] as? String
      return status == "success" || status == "failed" || (status == "started" && rows > 0)
    }
    #expect(progressed)
    #expect(
      sandbox.jobsByFile()["big.json"]?.first?["status"] as? String == "started",
      "the export ended before progress was seen")
    let id = try #require(sandbox.jobsByFile()["big.json"]?.first?["id"] as? String)
    #expect(daemon.stop(SIGTERM) == 0)
    if daemon.log.contains("job cut short by shutdown") {
      #expect(sandbox.list("spool/pending") == ["\(id).json"])
      #expect(sandbox.jobsByFile()["big.json"]?.first?["status"] as? String == "pending")
      #expect(sandbox.list("outbox/files/\(id)") == [])
    } else {
      // The export finished before the signal arrived.
      #expect(sandbox.list("spool/success") == ["\(id).json"])
    }
  }

  @Test func submitWaitEndsWithTheFileOrTheErrorAndDrawsALiveLineOnlyOnATerminal() throws {
    let sandbox = try Sandbox(orders: 500)
    let daemon = try RunningDaemon(sandbox, ["--grace", "0"])
    defer { daemon.stop() }
    let good = sandbox.root + "/good.json"
    let bad = sandbox.root + "/bad.json"
    try Sandbox.request(filter: "eq(payment,paid)").write(toFile: good, atomically: true, encoding: .utf8)
    try Sandbox.request(filter: "eq(store,nowhere)").write(toFile: bad, atomically: true, encoding: .utf8)

    // A script's view: the id, then one plain line with the file's place.
    let plain = try sandbox.run(["submit", "--wait", good] + sandbox.paths)
    #expect(plain.status == 0, "\(plain.stderr)")
    let lines = plain.stdout.split(separator: "\n")
    #expect(lines.count == 2 && !plain.stdout.contains("\u{1B}"))
    let id = String(lines.first ?? "")
    // The spool says success first (that ends the wait); the job's document follows at once.
    let documents = try sandbox.outboxWaiter()
    #expect(documents.wait { sandbox.jobsByFile()["good.json"]?.first?["status"] as? String == "success" })
    let job = try #require(sandbox.jobsByFile()["good.json"]?.first)
    let href = (job["link"] as! [String: Any])["href"] as! String
    let rows = (job["meta"] as! [String: Any])["rows"] as! Int
    #expect(lines.last == "success: \(rows) rows in \(sandbox.outbox)/\(href)")
    #expect(job["id"] as? String == id)

    // A failed job: the error on stderr, exit 1.
    let failed = try sandbox.run(["submit", "--wait", bad] + sandbox.paths)
    #expect(failed.status == 1)
    #expect(failed.stderr == "failed: No results matched the supplied filter\n")

    // On a terminal (script(1) gives it a pseudo-terminal): the live line, redrawn in place, then the end.
    let command = ([Sandbox.binary, "submit", "--wait", good] + sandbox.paths).joined(separator: " ")
    let terminal = try Spawn.run("/usr/bin/script", ["-qec", command, "/dev/null"])
    #expect(terminal.status == 0, "\(terminal.stdout)")
    let screen = terminal.stdout.replacingOccurrences(of: "\r\n", with: "\n")
    #expect(screen.contains("\r\u{1B}[Ksuccess  \(rows) rows"), "\(screen)")
    // The same request again is a new job with a file of its own.
    let terminalID = String(screen.split(separator: "\n").first ?? "")
    let last = screen.split(separator: "\n").last.map(String.init) ?? ""
    #expect(
      last.hasPrefix("success: \(rows) rows in \(sandbox.outbox)/files/\(terminalID)/order_export-"),
      "\(screen)")
    #expect(last.hasSuffix(".csv") && screen.hasSuffix("\n") && terminalID != id)
  }

  @Test func statusWatchRedrawsTheTableAsJobsMoveUntilInterrupted() throws {
    let sandbox = try Sandbox(orders: 300)
    let daemon = try RunningDaemon(sandbox, ["--grace", "0"])
    defer { daemon.stop() }
    let waiter = try ChangeWaiter(folders: [sandbox.root, sandbox.outbox])
    #expect(waiter.wait { FileManager.default.fileExists(atPath: sandbox.spool + "/pending") })
    let output = sandbox.root + "/watch.out"
    let watch = try Spawn.start(
      Sandbox.binary, ["status", "--watch"] + sandbox.paths, directory: sandbox.root, stdoutPath: output,
      stderrPath: sandbox.root + "/watch.err")
    func screen() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
    #expect(waiter.wait { screen().hasPrefix("ID  STATUS") })
    sandbox.drop("first.json", Sandbox.request(filter: "eq(payment,paid)"))
    #expect(waiter.wait { screen().contains("success  order_export") && screen().contains("first.json") })
    sandbox.drop("second.json", Sandbox.request(filter: "eq(payment,refunded)"))
    #expect(
      waiter.wait {
        screen().split(separator: "\n").filter { $0.contains("second.json") && $0.contains("success") }.count
          == 1
      })
    kill(watch, SIGINT)
    #expect(Spawn.wait(watch, timeout: 10) == 128 + SIGINT, "Ctrl-C ends it")
    let tables = screen().components(separatedBy: "\n\n")
    #expect(tables.count >= 3, "the table was drawn again as jobs moved: \(tables.count)")
    #expect(tables.last?.split(separator: "\n").count == 3, "the last table lists both jobs")
    #expect(!screen().contains("\u{1B}"), "no escape codes off a terminal")
  }

  @Test func submitDropsAtomicallyAndPrintsTheClaimedJobID() throws {
    let sandbox = try Sandbox(orders: 50)
    let file = sandbox.root + "/mine.json"
    try Sandbox.request(extra: #", "reference": "r-1""#).write(
      toFile: file, atomically: true, encoding: .utf8)

    let unclaimed = try sandbox.run(["submit", "--timeout", "1s", file] + sandbox.paths)
    #expect(unclaimed.status == 1)
    #expect(unclaimed.stderr.contains("mine.json is in the inbox but no jobdrop claimed it within 1s"))
    #expect(sandbox.list("inbox") == ["mine.json"])

    // The name is taken (an earlier upload still there): the request goes in under a name of its own.
    let taken = try sandbox.run(["submit", "--timeout", "1s", file] + sandbox.paths)
    #expect(taken.status == 1)
    #expect(taken.stderr.contains("the inbox already has a file named mine.json; submitted as mine-2.json"))
    #expect(taken.stderr.contains("mine-2.json is in the inbox but no jobdrop claimed it within 1s"))
    #expect(sandbox.list("inbox").sorted() == ["mine-2.json", "mine.json"])

    try FileManager.default.removeItem(atPath: sandbox.inbox + "/mine.json")
    try FileManager.default.removeItem(atPath: sandbox.inbox + "/mine-2.json")
    let daemon = try RunningDaemon(sandbox)
    let result = try sandbox.run(["submit", file] + sandbox.paths)
    #expect(result.status == 0, "\(result.stderr)")
    let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(JobID.isValid(id))
    let waiter = try sandbox.outboxWaiter()
    #expect(
      waiter.wait {
        sandbox.jobDocuments().first { $0["id"] as? String == id }?["status"] as? String == "success"
      })
    #expect(daemon.stop() == 0)
  }

  @Test func exitsNonZeroAndSaysWhyWhenTheInboxIsRemoved() throws {
    let sandbox = try Sandbox(orders: 10)
    let waiter = try ChangeWaiter(folders: [sandbox.root])
    let daemon = try RunningDaemon(sandbox)
    #expect(waiter.wait { daemon.log.contains("watching the inbox") })
    try FileManager.default.removeItem(atPath: sandbox.inbox)
    let status = Spawn.wait(daemon.pid, timeout: 30)
    daemon.markExited()
    #expect(status != nil && status != 0, "the daemon did not exit non-zero within 30 s")
    #expect(daemon.log.contains("was removed or replaced; exiting so that the supervisor restarts jobdrop"))
  }
}
