import Foundation
import JobdropState
import Synchronization
import Testing

/// Nothing a partner or an operator does stops `jobdrop run`, and it stops within a second when asked.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ReliabilityTests {
  /// Whether `pid` (a child of this process) is still running, without reaping it.
  /// Fills the file system of `folder` to the last block and inode (`filler`, then empty `f<n>` files).
  static func fill(_ folder: String) {
    let descriptor = open(folder + "/filler", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    var block = [UInt8](repeating: 0x41, count: 4096)
    while block.withUnsafeMutableBytes({ Glibc.write(descriptor, $0.baseAddress, $0.count) }) > 0 {}
    close(descriptor)
    for index in 0..<10_000 {
      let file = open(folder + "/f\(index)", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
      if file < 0 { break }
      close(file)
    }
  }

  static func isRunning(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return false }
    return !stat[close...].hasPrefix(") Z")  // a zombie has exited
  }

  /// Writes `bytes` to `path` in place, as a partner's client does.
  @Sendable static func write(_ path: String, _ bytes: [UInt8]) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { return }
    _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    close(descriptor)
  }

  @Test func partnersChangingTheirFilesAtEveryMomentAndAnOperatorRunningStatusCannotStopTheDaemon() throws {
    let sandbox = try Sandbox(orders: 200)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--settle", "200ms", "--workers", "2"])
    #expect(waiter.wait { FileManager.default.fileExists(atPath: sandbox.outbox + "/index.json") })
    let inbox = sandbox.inbox
    let request = Array(Sandbox.request(filter: "eq(payment,paid)").utf8)
    let stop = Atomic<Bool>(false)
    let operatorRuns = Atomic<Int>(0)
    let operatorFailures = Mutex<[String]>([])
    let chaosCycles = Atomic<Int>(0)

    let write = ReliabilityTests.write
    let paths = sandbox.paths
    let root = sandbox.root
    // Simulated careless partners: each cycle does one of the things a file in the inbox can go through
    // around its read and its claim.
    let chaos = (0..<3).map { worker in
      Thread {
        var cycle = 0
        while !stop.load(ordering: .relaxed) {
          let path = "\(inbox)/chaos-\(worker)-\(cycle % 7).json"
          write(path, request)
          usleep(useconds_t(cycle % 4) * 300)
          switch cycle % 6 {
          case 0: unlink(path)
          case 1: rename(path, "\(inbox)/chaos-\(worker)-away.txt")
          case 2: truncate(path, 9)
          case 3:
            write(path + ".part", Array(#"{"data": {"type": "job", "job_type": "nope"}}"#.utf8))
            rename(path + ".part", path)
          case 4:
            unlink(path)
            mkdir(path, 0o755)
            usleep(500)
            rmdir(path)
          default:
            unlink(path)
            symlink("/etc/passwd", path)
            usleep(500)
            unlink(path)
          }
          cycle += 1
          chaosCycles.add(1, ordering: .relaxed)
        }
      }
    }
    // An operator looking at the spool, and a partner validating files, the whole time.
    let operatorThread = Thread {
      while !stop.load(ordering: .relaxed) {
        for arguments in [["status"] + paths, ["validate", "\(inbox)/ordinary-0.json"]] {
          guard let result = try? Spawn.run(Sandbox.binary, arguments, directory: root) else { continue }
          operatorRuns.add(1, ordering: .relaxed)
          if arguments[0] == "status" && result.status != 0 {
            operatorFailures.withLock { $0.append(result.stderr) }
          }
        }
      }
    }
    chaos.forEach { $0.start() }
    operatorThread.start()
    // Ordinary partners drop 300 requests meanwhile, each under its own name (written, then renamed in).
    let names = (0..<300).map { "ordinary-\($0).json" }
    for name in names {
      write("\(inbox)/.\(name).part", request)
      rename("\(inbox)/.\(name).part", "\(inbox)/\(name)")
      usleep(3_000)
    }
    stop.store(true, ordering: .relaxed)
    let done = waiter.wait(timeout: 90) {
      let jobs = sandbox.jobsByFile()
      return names.allSatisfy { jobs[$0]?.first?["status"] as? String == "success" }
    }
    #expect(done, "not every ordinary request succeeded; log:\n\(daemon.log.suffix(3000))")
    #expect(ReliabilityTests.isRunning(daemon.pid), "the daemon stopped; log:\n\(daemon.log.suffix(3000))")
    let jobs = sandbox.jobsByFile()
    for name in names { #expect(jobs[name]?.count == 1, "\(name): \(jobs[name]?.count ?? 0) jobs") }
    #expect(operatorFailures.withLock { $0 } == [])
    #expect(chaosCycles.load(ordering: .relaxed) > 100)
    #expect(operatorRuns.load(ordering: .relaxed) > 4)
    #expect(!daemon.log.contains("stopped\""), "a service stopped: \(daemon.log.suffix(2000))")
    #expect(daemon.stop() == 0)
    print(
      "soak: \(chaosCycles.load(ordering: .relaxed)) chaos cycles, \(operatorRuns.load(ordering: .relaxed)) operator commands, \(names.count) ordinary requests"
    )
  }

  @Test func sigtermWithABacklogExitsAtOnceAndLosesNothing() throws {
    let sandbox = try Sandbox(orders: 50)
    let names = (0..<2000).map { "backlog-\($0).json" }
    for name in names { sandbox.drop(name, Sandbox.request()) }
    let spool = try ChangeWaiter(folders: [sandbox.spool + "/success"])
    let daemon = try RunningDaemon(sandbox)
    #expect(spool.wait { sandbox.list("spool/success").count >= 5 }, "log:\n\(daemon.log)")
    let asked = Date()
    kill(daemon.pid, SIGTERM)
    let status = Spawn.wait(daemon.pid, timeout: 10)
    daemon.markExited()
    let took = Date().timeIntervalSince(asked)
    #expect(status == 0, "exit status \(String(describing: status)) after \(took) s")
    #expect(took < 5, "SIGTERM took \(took) s")
    // What was not claimed is still in the inbox; the next run takes it. Each request is one job.
    #expect(!sandbox.list("inbox").isEmpty, "the backlog should not have been finished before stopping")
    try sandbox.process()
    let jobs = sandbox.jobsByFile()
    for name in names { #expect(jobs[name]?.count == 1, "\(name): \(jobs[name]?.count ?? 0) jobs") }
    #expect(sandbox.list("inbox") == [])
  }

  /// A shutdown does not wait to take claimed files away (with a large backlog that held it back for
  /// seconds while runners went on): they stay in their grace time, and the next start takes them away
  /// by their claim records, each still one job.
  @Test func claimedFilesAShutdownLeavesAreTakenAwayByTheNextStart() throws {
    let sandbox = try Sandbox(orders: 50)
    let names = (0..<20).map { "claimed-\($0).json" }
    let waiter = try ChangeWaiter(folders: [sandbox.spool + "/success"])
    let daemon = try RunningDaemon(sandbox, ["--grace", "10m"])
    for name in names { sandbox.drop(name, Sandbox.request(filter: "eq(order_number,ORD-00000001)")) }
    #expect(waiter.wait { sandbox.list("spool/success").count == names.count }, "\(daemon.log)")
    #expect(daemon.stop() == 0)
    #expect(sandbox.list("inbox").sorted() == names.sorted(), "left in their grace time")
    try sandbox.process()
    #expect(sandbox.list("inbox").isEmpty)
    let jobs = sandbox.jobsByFile()
    for name in names { #expect(jobs[name]?.count == 1, "\(name): \(jobs[name]?.count ?? 0) jobs") }
  }

  @Test func aLogReaderThatStopsReadingNeitherStallsJobsNorTheShutdown() throws {
    let sandbox = try Sandbox(orders: 200)
    // stderr is a FIFO this test opens and never reads: its 64 KiB fill with the first few hundred claims.
    let fifo = sandbox.root + "/stderr.fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    let reader = open(fifo, O_RDONLY | O_NONBLOCK)
    #expect(reader >= 0)
    defer { close(reader) }
    let daemon = try RunningDaemon(sandbox, ["--grace", "0"], stderrPath: fifo)
    let waiter = try sandbox.outboxWaiter()
    for index in 0..<800 {
      sandbox.drop("r\(index).json", Sandbox.request(filter: "eq(order_number,ORD-00000001)"))
    }
    #expect(waiter.wait(timeout: 60) { sandbox.list("spool/success").count == 800 })
    // A daemon whose log writes block would not exit: bounded, then killed.
    kill(daemon.pid, SIGTERM)
    daemon.markExited()
    #expect(Spawn.wait(daemon.pid, timeout: 10) == 0, "SIGTERM: exit 0 without anybody reading stderr")
  }

  @Test func statusNeverChangesTheSpoolItReads() throws {
    let sandbox = try Sandbox(orders: 10)
    sandbox.drop("a.json", Sandbox.request())
    try sandbox.process()
    let id = try sandbox.job(file: "a.json")["id"] as! String
    // What a daemon in the middle of its work has in the spool: a claim whose request is not moved yet,
    // a temp file, and a move between its two steps.
    let claiming = JobID.make()
    try Data("{}".utf8).write(to: URL(fileURLWithPath: sandbox.spool + "/pending/\(claiming).json"))
    try Data("x".utf8).write(to: URL(fileURLWithPath: sandbox.spool + "/pending/.tmp-1-1-x.json"))
    try FileManager.default.copyItem(
      atPath: sandbox.spool + "/success/\(id).json", toPath: sandbox.spool + "/started/\(id).json")
    try Data("garbage".utf8).write(to: URL(fileURLWithPath: sandbox.spool + "/failed/\(JobID.make()).json"))
    let before = FileManager.default.subpaths(atPath: sandbox.spool)?.sorted()
    let result = try sandbox.run(["status"] + sandbox.paths)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.split(separator: "\n").count == 2, "one job, listed once:\n\(result.stdout)")
    #expect(result.stdout.contains("\(id)  success"))
    let one = try sandbox.run(["status", id] + sandbox.paths)
    #expect(one.stdout.contains(#""status":"success""#))
    #expect(FileManager.default.subpaths(atPath: sandbox.spool)?.sorted() == before)
    let missing = try sandbox.run(["status", "--spool", sandbox.root + "/nowhere"])
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("no spool at \(sandbox.root)/nowhere"))
    #expect(!FileManager.default.fileExists(atPath: sandbox.root + "/nowhere"))
  }

  @Test func aDamagedStatusFileIsReportedQuarantinedAndItsJobRunsAgainUnderItsID() throws {
    let sandbox = try Sandbox(orders: 10)
    sandbox.drop("a.json", Sandbox.request())
    try sandbox.process(["--empty-ok"])
    let id = try sandbox.job(file: "a.json")["id"] as! String
    try Data().write(to: URL(fileURLWithPath: sandbox.spool + "/success/\(id).json"))  // 0 bytes
    let result = try sandbox.process()
    #expect(result.stderr.contains("status file damaged"), "\(result.stderr)")
    #expect(result.stderr.contains("the damaged job was rebuilt from its request"), "\(result.stderr)")
    #expect(sandbox.list("spool/damaged") == ["\(id).json"])
    let rerun = try sandbox.job(file: "a.json")
    #expect(rerun["status"] as? String == "success")
    #expect(rerun["id"] as? String == id, "the id the partner was given")
    #expect(try sandbox.index().count == 1)
    #expect(sandbox.list("inbox") == [])
    let status = try sandbox.run(["status"] + sandbox.paths)
    #expect(status.stdout.contains("\(id)  success"), "\(status.stdout)")
    #expect(
      status.stdout.contains("1 damaged status record kept in the spool's damaged/ folder"),
      "\(status.stdout)")
  }

  /// Killed while the partner's upload is still in the inbox (its grace time), its job's status file
  /// damaged (emptied, or half written by a disk fault): started again, the upload is still one job.
  @Test(arguments: ["", #"{"attempts":1,"createdAt":"2026-"#])
  func aDamagedStatusFileWithItsUploadStillInTheInboxIsOneJob(damage: String) throws {
    let sandbox = try Sandbox(orders: 50)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox)
    sandbox.drop("a.json", Sandbox.request())
    #expect(
      waiter.wait { sandbox.jobsByFile()["a.json"]?.first?["status"] as? String == "success" },
      "\(daemon.log)")
    daemon.stop(SIGKILL)
    #expect(sandbox.list("inbox") == ["a.json"], "still in its grace time")
    let id = try sandbox.job(file: "a.json")["id"] as! String
    try Data(damage.utf8).write(to: URL(fileURLWithPath: sandbox.spool + "/success/\(id).json"))
    let result = try sandbox.process()
    #expect(result.status == 0, "\(result.stderr)")
    let jobs = try sandbox.index()
    #expect(jobs.count == 1, "one upload, one job: \(jobs.map { $0["id"] ?? "" })")
    #expect(jobs.first?["id"] as? String == id)
    #expect(jobs.first?["status"] as? String == "success")
    #expect(sandbox.list("inbox") == [], "the claimed upload is taken away, not claimed again")
    #expect(sandbox.list("outbox/jobs").filter { $0.hasSuffix(".json") } == ["\(id).json"])
  }

  /// A request copy deleted from the spool keeps its job; a damaged status file whose request copy is
  /// gone too fails its job, saying so, instead of leaving its document `pending` for good.
  @Test func aLostRequestCopyKeepsItsJobAndALostJobFailsSayingSo() throws {
    let sandbox = try Sandbox(orders: 50)
    sandbox.drop("kept.json", Sandbox.request())
    sandbox.drop("lost.json", Sandbox.request())
    try sandbox.process()
    let kept = try sandbox.job(file: "kept.json")["id"] as! String
    let lost = try sandbox.job(file: "lost.json")["id"] as! String
    try FileManager.default.removeItem(atPath: sandbox.spool + "/requests/\(kept).json")
    try FileManager.default.removeItem(atPath: sandbox.spool + "/requests/\(lost).json")
    try Data("{".utf8).write(to: URL(fileURLWithPath: sandbox.spool + "/success/\(lost).json"))
    let result = try sandbox.process()
    #expect(result.stderr.contains("request copy was missing"), "\(result.stderr)")
    #expect(try sandbox.job(file: "kept.json")["status"] as? String == "success")
    #expect(try sandbox.job(file: "kept.json")["id"] as? String == kept)
    let failed = try sandbox.job(file: "lost.json")
    #expect(failed["id"] as? String == lost)
    #expect(failed["status"] as? String == "failed")
    #expect(
      failed["error"] as? String
        == "the job's record in the service's spool was damaged and its request is lost; drop the request again"
    )
    #expect(try sandbox.index().count == 2)
    // And both still expire with everything they published (a debug build's clock two days on).
    try sandbox.process(["--ttl", "1d"], environment: ["JOBDROP_CLOCK_SKEW": "2d"])
    #expect(try sandbox.index().isEmpty)
    for folder in ["jobs", "files", "requests"] {
      #expect(
        sandbox.list("outbox/\(folder)").isEmpty, "outbox/\(folder): \(sandbox.list("outbox/\(folder)"))")
    }
    #expect(sandbox.list("spool/requests").isEmpty && sandbox.list("spool/success").isEmpty)
  }

  /// An outbox that never held anything, on a file system full before the first start: the daemon
  /// starts, jobs run (failing while their files cannot be written), and the site appears once space
  /// returns.
  @Test func aFreshOutboxOnAFullDiskStartsTheDaemonAndIsWrittenOnceSpaceReturns() throws {
    let sandbox = try Sandbox(orders: 300)
    try FileManager.default.createDirectory(atPath: sandbox.outbox, withIntermediateDirectories: true)
    let mount = try Spawn.run(
      "/bin/mount", ["-t", "tmpfs", "-o", "size=1m,nr_inodes=64", "tmpfs", sandbox.outbox])
    try #require(mount.status == 0, "a 1 MiB tmpfs for the outbox (needs root): \(mount.stderr)")
    defer { _ = try? Spawn.run("/bin/umount", ["-l", sandbox.outbox]) }
    ReliabilityTests.fill(sandbox.outbox)
    #expect(!FileManager.default.fileExists(atPath: sandbox.outbox + "/jobs"))

    let waiter = try ChangeWaiter(folders: [sandbox.spool + "/failed", sandbox.spool + "/success"])
    let daemon = try RunningDaemon(sandbox)
    sandbox.drop("full.json", Sandbox.request())
    #expect(
      waiter.wait { sandbox.list("spool/failed").count + sandbox.list("spool/success").count == 1 },
      "log:\n\(daemon.log)")
    #expect(ReliabilityTests.isRunning(daemon.pid), "log:\n\(daemon.log)")
    #expect(daemon.log.contains("cannot write the outbox now; it is written once it can be"), "\(daemon.log)")

    for name in sandbox.list("outbox") where name.hasPrefix("f") { unlink(sandbox.outbox + "/" + name) }
    let outbox = try sandbox.outboxWaiter()
    sandbox.drop("after.json", Sandbox.request())
    #expect(
      outbox.wait {
        sandbox.jobsByFile()["after.json"]?.first?["status"] as? String == "success"
          && sandbox.jobsByFile()["full.json"]?.first?["status"] != nil && (try? sandbox.index().count) == 2
          && FileManager.default.fileExists(atPath: sandbox.outbox + "/errors/404.json")
      }, "log:\n\(daemon.log)")
    #expect(daemon.stop() == 0)
    let warnings = daemon.log.components(separatedBy: "cannot write the outbox").count - 1
    #expect(warnings <= 3, "said once or twice, not in a loop (\(warnings) times):\n\(daemon.log)")
  }

  /// A workbook that runs out of space fails alone and gives back everything it took: the next job on
  /// the same file system runs, and the file system is empty again but for the documents.
  @Test func aWorkbookThatRunsOutOfSpaceGivesItAllBack() throws {
    let sandbox = try Sandbox(orders: 20_000)
    try FileManager.default.createDirectory(atPath: sandbox.outbox, withIntermediateDirectories: true)
    let mount = try Spawn.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", sandbox.outbox])
    try #require(mount.status == 0, "a 2 MiB tmpfs for the outbox (needs root): \(mount.stderr)")
    defer { _ = try? Spawn.run("/bin/umount", ["-l", sandbox.outbox]) }
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox)
    sandbox.drop("big.json", Sandbox.request(extra: #", "format": "xlsx""#))
    #expect(
      waiter.wait(timeout: 120) { sandbox.jobsByFile()["big.json"]?.first?["status"] as? String == "failed" },
      "\(daemon.log)")
    #expect(
      sandbox.jobsByFile()["big.json"]?.first?["error"] as? String
        == "xlsx: cannot write the workbook: No space left on device")
    let held = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd")) ?? [])
      .compactMap {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(daemon.pid)/fd/\($0)")
      }.filter { $0.hasPrefix(sandbox.outbox + "/files/") }
    #expect(held.isEmpty, "no file of the failed export is held open: \(held)")
    var info = statvfs()
    statvfs(sandbox.outbox, &info)
    #expect(Double(info.f_bfree) / Double(info.f_blocks) > 0.9, "the space came back")
    sandbox.drop("small.json", Sandbox.request(filter: "eq(payment,refunded)"))
    #expect(
      waiter.wait { sandbox.jobsByFile()["small.json"]?.first?["status"] as? String == "success" },
      "\(daemon.log)")
    #expect(
      sandbox.list("outbox/files").allSatisfy {
        !sandbox.list("outbox/files/\($0)").contains { $0.hasPrefix(".tmp") }
      })
    #expect(daemon.stop() == 0)
  }

  @Test func aFullOutboxDelaysDocumentsButNeverStopsTheDaemonAndItStartsOnAFullDisk() throws {
    let sandbox = try Sandbox(orders: 300)
    try FileManager.default.createDirectory(atPath: sandbox.outbox, withIntermediateDirectories: true)
    let mount = try Spawn.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", sandbox.outbox])
    try #require(mount.status == 0, "a 2 MiB tmpfs for the outbox (needs root): \(mount.stderr)")
    defer { _ = try? Spawn.run("/bin/umount", ["-l", sandbox.outbox]) }
    sandbox.drop("before.json", Sandbox.request())
    try sandbox.process()
    ReliabilityTests.fill(sandbox.outbox)

    let waiter = try ChangeWaiter(folders: [sandbox.spool + "/failed", sandbox.spool + "/success"])
    let daemon = try RunningDaemon(sandbox)
    for name in ["full-1.json", "full-2.json"] { sandbox.drop(name, Sandbox.request()) }
    #expect(
      waiter.wait { sandbox.list("spool/failed").count + sandbox.list("spool/success").count == 3 },
      "log:\n\(daemon.log)")
    #expect(ReliabilityTests.isRunning(daemon.pid), "log:\n\(daemon.log)")
    #expect(daemon.log.contains("cannot publish the job's documents; will retry"), "log:\n\(daemon.log)")

    // Space again: the documents appear, and new requests run as usual.
    for name in sandbox.list("outbox") where name.hasPrefix("f") { unlink(sandbox.outbox + "/" + name) }
    let outbox = try sandbox.outboxWaiter()
    sandbox.drop("after.json", Sandbox.request())
    let published = outbox.wait {
      let jobs = sandbox.jobsByFile()
      return ["full-1.json", "full-2.json", "after.json"].allSatisfy { jobs[$0]?.first?["status"] != nil }
        && jobs["after.json"]?.first?["status"] as? String == "success"
        && (try? sandbox.index().count) == 4
    }
    #expect(published, "log:\n\(daemon.log)")
    for name in ["full-1.json", "full-2.json"] {
      let job = try sandbox.job(file: name)
      let error = job["error"] as? String ?? ""
      #expect(job["status"] as? String == "failed")
      #expect(error.contains("No space left on device"), "\(error)")
      #expect(!error.contains(sandbox.root), "a public error names no server path: \(error)")
      #expect(!sandbox.list("outbox/files").contains(job["id"] as! String), "no empty files/<id>/ folder")
    }
    #expect(daemon.stop() == 0)
  }
}
