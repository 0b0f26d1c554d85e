import Foundation
import JobdropState
import JobdropSystem
import Testing

/// Standing requests against the real binary: windows that never overlap and never leave a gap while a
/// writer changes rows, across SIGKILLs and a failed run; catch-up after downtime; ending a schedule; and
/// every bad schedule refused with a message naming the key.
@Suite(.timeLimit(.minutes(10))) struct ScheduleTests {
  static func request(_ schedule: String, window: String? = nil) -> String {
    #"{"data": {"type": "job", "job_type": "order_export", "schedule": \#(schedule)"#
      + (window.map { #", "window": \#($0)"# } ?? "") + "}}"
  }

  /// The runs of schedules in the outbox, oldest first.
  static func runs(_ sandbox: Sandbox) -> [[String: Any]] {
    sandbox.jobDocuments().filter { ($0["meta"] as? [String: Any])?["schedule"] != nil }.sorted {
      (($0["meta"] as! [String: Any])["window"] as? [String: Any])?["from"] as? String ?? ""
        < (($1["meta"] as! [String: Any])["window"] as? [String: Any])?["from"] as? String ?? ""
    }
  }

  static func count(_ sandbox: Sandbox, _ status: String) -> Int {
    runs(sandbox).filter { $0["status"] as? String == status }.count
  }

  static func schedules(_ sandbox: Sandbox) throws -> [[String: Any]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: sandbox.outbox + "/schedules.json"))
    return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["data"] as? [[String: Any]] ?? []
  }

  @Test func windowsNeverOverlapNorLeaveAGapAcrossKillsAndAFailedRun() throws {
    let sandbox = try Sandbox(orders: 2000)
    // The run that fails finds the store gone (renamed away for a moment: SQLite cannot open it).
    try ScheduleTests.checkWindows(
      sandbox, options: [], writer: "Tests/Schedules/writer.py", database: sandbox.store,
      query: { try sandbox.query($0) },
      breakSource: { #expect(rename(sandbox.store, sandbox.store + ".away") == 0) },
      mendSource: { #expect(rename(sandbox.store + ".away", sandbox.store) == 0) })
  }

  /// The same on PostgreSQL: the run that fails is cancelled by the server's statement_timeout while a
  /// writer holds the table.
  @Test func windowsNeverOverlapNorLeaveAGapOnPostgreSQL() throws {
    let sandbox = try Sandbox(orders: 10)
    let server = try PostgresServer(directory: sandbox.root)
    defer { server.stop() }
    #expect(try sandbox.run(["demo-data", "--orders", "2000", "--source", server.url]).status == 0)
    _ = try SeveralNodesTests.rows(server, "ALTER DATABASE postgres SET statement_timeout = '3s'")
    try ScheduleTests.checkWindows(
      sandbox, options: ["--source", server.url], writer: "Tests/Schedules/writer_postgres.py",
      database: server.url, query: { sql in try SeveralNodesTests.rows(server, sql).map { $0.joined() } },
      breakSource: {
        #expect(FileManager.default.createFile(atPath: sandbox.root + "/hold", contents: nil))
      }, mendSource: {})
  }

  /// A schedule every 2 s with a window on `updated_at` while `writer` changes rows of `database`; the
  /// daemon killed twice and one run failed: the successful windows follow each other exactly and every
  /// row version the store has in them was exported once, inside its run's window.
  static func checkWindows(
    _ sandbox: Sandbox, options: [String], writer script: String, database: String,
    query: (String) throws -> [String], breakSource: () -> Void, mendSource: () -> Void
  ) throws {
    let hold = sandbox.root + "/hold"
    let writer = try Spawn.start(
      "/usr/bin/env", ["python3", NginxTests.repository.appendingPathComponent(script).path, database, hold],
      environment: ProcessInfo.processInfo.environment, stdoutPath: sandbox.root + "/writer.out",
      stderrPath: sandbox.root + "/writer.err")
    var writerRunning = true
    func stopWriter() {
      guard writerRunning else { return }
      writerRunning = false
      kill(writer, SIGKILL)
      _ = Spawn.wait(writer)
    }
    defer { stopWriter() }
    let waiter = try sandbox.outboxWaiter()
    let options = ["--grace", "0", "--retries", "0"] + options
    var daemon = try RunningDaemon(sandbox, options)
    sandbox.drop(
      "feed.json",
      ScheduleTests.request(
        #"{"every": "2s"}"#,
        window: #"{"field": "updated_at", "since": "last", "start": "2000-01-01", "lag": "1s"}"#))
    #expect(waiter.wait { ScheduleTests.count(sandbox, "success") >= 2 }, "\(daemon.log)")
    daemon.stop(SIGKILL)
    daemon = try RunningDaemon(sandbox, options)
    #expect(waiter.wait { ScheduleTests.count(sandbox, "success") >= 3 }, "\(daemon.log)")
    // The source out of reach for a moment: a run fails; the next one covers its window.
    breakSource()
    #expect(waiter.wait { ScheduleTests.count(sandbox, "failed") >= 1 }, "\(daemon.log)")
    mendSource()
    let succeeded = ScheduleTests.count(sandbox, "success")
    #expect(waiter.wait { ScheduleTests.count(sandbox, "success") >= succeeded + 2 }, "\(daemon.log)")
    daemon.stop(SIGKILL)
    daemon = try RunningDaemon(sandbox, options)
    let before = ScheduleTests.count(sandbox, "success")
    #expect(waiter.wait { ScheduleTests.count(sandbox, "success") >= before + 2 }, "\(daemon.log)")
    // No change while the store is compared. Killed, not stopped: a writer stopped inside its commit
    // would hold SQLite's lock for good ("database is locked" in the query below); a dead one holds
    // nothing (its locks go with it, and its transaction is rolled back).
    stopWriter()
    #expect(daemon.stop() == 0)

    // The successful windows follow each other exactly, from the window's start.
    let runs = ScheduleTests.runs(sandbox)
    let windows: [(from: String, to: String, job: [String: Any])] = runs.compactMap { job in
      guard job["status"] as? String == "success",
        let window = (job["meta"] as? [String: Any])?["window"] as? [String: Any]
      else { return nil }
      return (window["from"] as! String, window["to"] as! String, job)
    }
    #expect(windows.first?.from == "2000-01-01T00:00:00Z")
    for (earlier, later) in zip(windows, windows.dropFirst()) {
      #expect(
        later.from == earlier.to,
        "a gap or an overlap between \(earlier.from)…\(earlier.to) and \(later.from)…")
    }
    #expect(runs.contains { $0["status"] as? String == "failed" }, "the held run failed")
    #expect(Set(runs.map { $0["id"] as! String }).count == runs.count)
    // Every row version exported once, inside its run's window; every row of the store whose
    // updated_at lies in the windows exported.
    var exported = Set<String>()
    for window in windows {
      for row in try sandbox.csv(of: window.job).dropFirst() {
        let version = row[0] + "@" + row[18]
        #expect(exported.insert(version).inserted, "\(version) exported twice")
        #expect(
          row[18] >= window.from && row[18] < window.to, "\(version) outside \(window.from)…\(window.to)")
      }
    }
    let first = try #require(windows.first?.from)
    let last = try #require(windows.last?.to)
    let expected = try query(
      "SELECT id || '@' || updated_at FROM orders WHERE updated_at >= '\(first)' AND updated_at < '\(last)'")
    #expect(expected.count > 2000 / 2, "the demo store's rows and the writer's")
    let missing = Set(expected).subtracting(exported)
    #expect(missing.isEmpty, "\(missing.count) rows never exported, e.g. \(missing.prefix(3))")
  }

  /// Killed right after a schedule's record names its run and before the run's job is claimed (the debug
  /// build kills itself at `schedule-saved#2`): the next start makes that run, under that id, once.
  @Test func aKillBetweenNamingARunAndClaimingItMakesThatRunOnce() throws {
    let sandbox = try Sandbox(orders: 50)
    sandbox.drop(
      "feed.json",
      ScheduleTests.request(
        #"{"every": "1s"}"#, window: #"{"field": "updated_at", "start": "2000-01-01", "lag": "0"}"#))
    let crashed = try RunningDaemon(
      sandbox, ["--grace", "0"], environment: ["JOBDROP_CRASH_AT": "schedule-saved#2"])
    #expect(crashed.wait(timeout: 60) == 128 + SIGKILL, "\(crashed.log)")
    let file = try #require(sandbox.list("spool/schedules").first)
    let saved =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: sandbox.spool + "/schedules/" + file))) as? [String: Any]
    let named = try #require((saved?["live"] as? [String: Any])?["jobID"] as? String)
    #expect(sandbox.list("spool/pending").isEmpty && sandbox.jobDocuments().isEmpty, "named, not claimed")
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--grace", "0"])
    #expect(waiter.wait { ScheduleTests.count(sandbox, "success") >= 3 }, "\(daemon.log)")
    #expect(daemon.stop() == 0)
    let runs = ScheduleTests.runs(sandbox)
    #expect(runs.first?["id"] as? String == named, "the named run, made under its id")
    #expect(runs.filter { $0["id"] as? String == named }.count == 1)
    #expect(daemon.log.contains("a schedule's run was named but not made before a stop; made now"))
    let windows = runs.compactMap { ($0["meta"] as? [String: Any])?["window"] as? [String: Any] }
    for (earlier, later) in zip(windows, windows.dropFirst()) {
      #expect(later["from"] as? String == earlier["to"] as? String)
    }
  }

  /// Stopped across three of its times, a schedule makes one run at start, covering the whole span; a
  /// second start makes none.
  @Test func downtimeIsCaughtUpByOneRun() throws {
    let sandbox = try Sandbox(orders: 200)
    let waiter = try sandbox.outboxWaiter()
    var daemon = try RunningDaemon(sandbox, ["--grace", "0"])
    sandbox.drop(
      "hourly.json",
      ScheduleTests.request(
        #"{"every": "1h"}"#, window: #"{"field": "updated_at", "start": "2000-01-01", "lag": "0"}"#))
    #expect(waiter.wait { (try? ScheduleTests.schedules(sandbox).count) == 1 }, "\(daemon.log)")
    let created = try #require(
      ((try ScheduleTests.schedules(sandbox).first?["timestamps"]) as? [String: Any])?["created_at"]
        as? String)
    let firstLog = daemon.log
    #expect(daemon.stop() == 0, "\(firstLog)")
    #expect(ScheduleTests.runs(sandbox).isEmpty, "no run before its time")
    // Three hours and ten minutes later (a debug build's clock moved): one run.
    daemon = try RunningDaemon(sandbox, ["--grace", "0"], environment: ["JOBDROP_CLOCK_SKEW": "3h10m"])
    #expect(waiter.wait { ScheduleTests.count(sandbox, "success") == 1 }, "\(daemon.log)")
    #expect(daemon.stop() == 0)
    daemon = try RunningDaemon(sandbox, ["--grace", "0"], environment: ["JOBDROP_CLOCK_SKEW": "3h10m"])
    // Started (its schedules read back and settled) with nothing more to do.
    #expect(waiter.wait { daemon.log.contains("jobdrop running") }, "\(daemon.log)")
    #expect(daemon.stop() == 0, "\(daemon.log)")
    let runs = ScheduleTests.runs(sandbox)
    #expect(runs.count == 1, "one catch-up run, made once: \(runs.map { $0["id"] ?? "" })")
    let window = try #require((runs.first?["meta"] as? [String: Any])?["window"] as? [String: Any])
    #expect(window["from"] as? String == "2000-01-01T00:00:00Z")
    let createdAt = try #require(Timestamp.parse(created)?.time)
    let to = try #require(Timestamp.parse(window["to"] as! String)?.time)
    #expect(
      to.milliseconds - createdAt.milliseconds >= (3 * 3600 + 600 - 60) * 1000,
      "the window reaches the restart")
    let schedule = try #require(try ScheduleTests.schedules(sandbox).first)
    #expect(schedule["window_end"] as? String == window["to"] as? String)
    let next = try #require(Timestamp.parse(schedule["next_run_at"] as! String)?.time)
    #expect(
      next.milliseconds / 1000 == createdAt.milliseconds / 1000 + 4 * 3600, "the next time keeps its rhythm")
  }

  @Test func aCancelNamingTheScheduleEndsItAndAReplacementKeepsItsId() throws {
    let sandbox = try Sandbox(orders: 50)
    sandbox.drop(
      "nightly.json", ScheduleTests.request(#"{"cron": "0 2 * * *", "timezone": "Europe/Berlin"}"#))
    try sandbox.process()
    let schedule = try #require(try ScheduleTests.schedules(sandbox).first)
    let id = try #require(schedule["id"] as? String)
    #expect((schedule["schedule"] as? [String: Any])?["timezone"] as? String == "Europe/Berlin")
    let next = try #require(schedule["next_run_at"] as? String)
    #expect(
      next.hasSuffix(":00:00Z") && (next.contains("T01:") || next.contains("T00:")),
      "02:00 in Berlin: \(next)")
    let document = try #require(sandbox.read("outbox/requests/nightly.json"))
    #expect(
      document.contains(#""type":"schedule""#) && document.contains(id), "requests/<name> is the schedule")
    #expect(sandbox.list("outbox/schedules") == ["\(id).json"])
    #expect(try sandbox.index().isEmpty, "a standing request makes no job itself")
    let page = try #require(sandbox.read("outbox/index.html"))
    #expect(
      page.contains("<h2>Schedules</h2>") && page.contains("<td>nightly.json</td>"), "the job page shows it")
    #expect(page.contains("cron 0 2 * * * (Europe/Berlin)"))
    let status = try sandbox.run(["status"] + sandbox.paths)
    #expect(status.stdout.contains("SCHEDULE") && status.stdout.contains(id), "\(status.stdout)")
    #expect(status.stdout.contains(next) && status.stdout.contains("nightly.json"), "\(status.stdout)")
    // Dropped again with another time: the same schedule, replaced.
    sandbox.drop("nightly.json", ScheduleTests.request(#"{"cron": "30 3 * * *"}"#))
    try sandbox.process()
    let replaced = try ScheduleTests.schedules(sandbox)
    #expect(replaced.count == 1 && replaced.first?["id"] as? String == id)
    #expect((replaced.first?["schedule"] as? [String: Any])?["cron"] as? String == "30 3 * * *")
    sandbox.drop("stop.json", #"{"cancel": "\#(id)"}"#)
    try sandbox.process()
    #expect(try ScheduleTests.schedules(sandbox).isEmpty)
    #expect(sandbox.list("outbox/schedules").isEmpty)
    #expect(sandbox.list("spool/schedules").isEmpty)
    #expect(sandbox.read("outbox/requests/stop.json")?.contains(#""result":"cancelled""#) == true)
    #expect(sandbox.read("outbox/requests/nightly.json") == nil)
    #expect(sandbox.read("outbox/index.html")?.contains("<h2>Schedules</h2>") == false)
  }

  @Test(
    arguments: [
      (
        #"{"cron": "day * * * *"}"#, nil,
        "schedule.cron: 'day' is not a minute (field 1: 0-59, *, lists, ranges, steps)"
      ),
      (#"{"cron": "30 2 30 2 *"}"#, nil, "schedule.cron: '30 2 30 2 *' never runs (no day matches it)"),
      (
        #"{"cron": "0 2 * * *", "timezone": "Europe/Berln"}"#, nil,
        "schedule.timezone: unknown time zone 'Europe/Berln'"
      ),
      (#"{"every": "0s"}"#, nil, "schedule.every: '0s' is not a duration from 1s to 366d (e.g. 15m, 1h, 1d)"),
      (
        #"{"every": "400d"}"#, nil,
        "schedule.every: '400d' is not a duration from 1s to 366d (e.g. 15m, 1h, 1d)"
      ),
      (#"{"every": "1h", "cron": "* * * * *"}"#, nil, #"schedule: "cron" or "every", not both"#),
      (#"{"hourly": true}"#, nil, "schedule.hourly: unknown key (keys: cron, every, timezone)"),
      (
        #"{"every": "1h"}"#, #"{"field": "email"}"#,
        "window.field: 'email' is not a timestamp field of order_export (timestamp fields: created_at, updated_at)"
      ),
      (
        #"{"every": "1h"}"#, #"{"field": "updated_at", "lag": "25h"}"#,
        "window.lag: '25h' is not a duration from 0 to 24h (e.g. 0, 30s, 5m)"
      ),
      (
        #"{"every": "1h"}"#, #"{"field": "updated_at", "since": "first"}"#,
        #"window.since: 'first' is not supported (since: "last")"#
      ),
    ] as [(String, String?, String)])
  func badSchedulesAreRefusedNamingTheKey(schedule: String, window: String?, error: String) throws {
    let sandbox = try Sandbox(orders: 10)
    sandbox.drop("bad.json", ScheduleTests.request(schedule, window: window))
    try sandbox.process()
    let job = try sandbox.job(file: "bad.json")
    #expect(job["status"] as? String == "failed")
    #expect(job["error"] as? String == error)
    #expect(sandbox.read("outbox/schedules.json") == nil, "no schedule made, none published")
  }

  /// A partner's `max_schedules`: a new schedule past it is refused saying so; a replacement of one it
  /// has is not a new one; each partner's schedules are in its own site only.
  @Test func aPartnerMayKeepAtMostItsMaxSchedules() throws {
    let sandbox = try Sandbox(orders: 10)
    let options = try PartnersTests.serve(
      sandbox,
      """
      {"partners": [{"id": "acme", "token": "\(PartnersTests.acmeToken)", "scope": {"*": "eq(store,store-1)"},
        "max_schedules": 1},
        {"id": "globex", "token": "\(PartnersTests.globexToken)", "scope": {"*": "eq(store,store-3)"}}]}
      """)
    let hourly = ScheduleTests.request(#"{"every": "1h"}"#)
    try PartnersTests.drop(sandbox, "acme", "one.json", hourly)
    try PartnersTests.drop(sandbox, "globex", "theirs.json", hourly)
    try sandbox.process(options)
    try PartnersTests.drop(sandbox, "acme", "two.json", hourly)
    try PartnersTests.drop(sandbox, "acme", "one.json", ScheduleTests.request(#"{"every": "2h"}"#))
    try sandbox.process(options)
    let refused = try #require(try PartnersTests.jobs(sandbox.outbox, "acme")["two.json"])
    #expect(refused["status"] as? String == "failed")
    #expect(refused["error"] as? String == "too many schedules for partner 'acme' (limit 1)")
    let acme = try #require(sandbox.read("outbox/acme/schedules.json"))
    #expect(acme.contains("one.json") && acme.contains(#""every":"2h""#) && !acme.contains("theirs.json"))
    #expect(sandbox.read("outbox/globex/schedules.json")?.contains("theirs.json") == true)
    #expect(sandbox.read("outbox/schedules.json") == nil, "no schedule outside the partners' sites")
  }

  @Test func aWindowWithoutAScheduleIsRefused() throws {
    let sandbox = try Sandbox(orders: 10)
    sandbox.drop(
      "bad.json", #"{"data": {"type": "job", "job_type": "order_export", "window": {"field": "updated_at"}}}"#
    )
    try sandbox.process()
    #expect(
      try sandbox.job(file: "bad.json")["error"] as? String
        == "window: only a standing request (one with a schedule) takes a window")
  }
}

extension Sandbox {
  /// The text of the file at `relative` (to the sandbox), if there is one.
  func read(_ relative: String) -> String? {
    try? String(contentsOfFile: root + "/" + relative, encoding: .utf8)
  }
}
