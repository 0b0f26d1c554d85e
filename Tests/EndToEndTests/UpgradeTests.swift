import Foundation
import Testing

/// Upgrades: a spool and a shared table written in the previous format (fixtures made by the code of
/// then, checked in under Tests/Fixtures) are upgraded in place and run; a newer one is refused.
@Suite(.timeLimit(.minutes(10))) struct UpgradeTests {
  static let fixtures = NginxTests.repository.appendingPathComponent("Tests/Fixtures")
  static let paid = "ee4b2be1-6da7-4542-b2e1-65718b8edba6"
  static let bad = "03e9ac0f-a64d-488a-9db8-35735a600745"

  @Test func aFormat1SpoolIsUpgradedInPlaceAndItsJobsKept() throws {
    let sandbox = try Sandbox(orders: 50)
    try? FileManager.default.removeItem(atPath: sandbox.spool)
    try FileManager.default.copyItem(
      atPath: UpgradeTests.fixtures.appendingPathComponent("spool-format-1").path, toPath: sandbox.spool)
    #expect(!FileManager.default.fileExists(atPath: sandbox.spool + "/VERSION"))
    let result = try sandbox.process(["--ttl", "36500d"])
    #expect(result.stderr.contains("spool upgraded") && result.stderr.contains("from=1"), "\(result.stderr)")
    #expect(sandbox.read("spool/VERSION") == "2\n")
    let jobs = Dictionary(uniqueKeysWithValues: try sandbox.index().map { ($0["id"] as! String, $0) })
    #expect(jobs[UpgradeTests.paid]?["status"] as? String == "success")
    #expect(jobs[UpgradeTests.bad]?["status"] as? String == "failed")
    #expect(
      ((jobs[UpgradeTests.paid]?["meta"] as? [String: Any])?["request"] as? [String: Any])?["reference"]
        as? String == "fixture-paid")
    // A second start finds it current and says nothing.
    let again = try sandbox.process(["--ttl", "36500d"])
    #expect(!again.stderr.contains("spool upgraded"))
  }

  @Test func aSpoolNewerThanThisJobdropIsRefusedByEveryCommand() throws {
    let sandbox = try Sandbox(orders: 10)
    try sandbox.process()
    try "3\n".write(toFile: sandbox.spool + "/VERSION", atomically: true, encoding: .utf8)
    let message = "spool format 3 is newer than this jobdrop (2); upgrade jobdrop"
    let process = try sandbox.run(["process"] + sandbox.paths)
    #expect(process.status == 1 && process.stderr.contains(message), "\(process.stderr)")
    let status = try sandbox.run(["status"] + sandbox.paths)
    #expect(status.status == 1 && status.stderr.contains(message), "\(status.stderr)")
    let daemon = try RunningDaemon(sandbox)
    #expect(daemon.wait(timeout: 30) == 1)
    #expect(daemon.log.contains(message), "\(daemon.log)")
  }

  /// Two nodes start together on a table of format 1: it is migrated once (under the schema's advisory
  /// lock), its jobs kept; a table newer than this jobdrop stops a node at start.
  @Test func aFormat1SharedTableIsMigratedOnceAndANewerOneRefused() throws {
    let sandbox = try Sandbox(orders: 10)
    let server = try PostgresServer(directory: sandbox.root)
    defer { server.stop() }
    let load = try Spawn.run(
      "/usr/bin/psql",
      [
        "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.url, "-f",
        UpgradeTests.fixtures.appendingPathComponent("postgres-format-1.sql").path,
      ], environment: ProcessInfo.processInfo.environment)
    try #require(load.status == 0, "\(load.stderr)")
    let nodes = try (1...2).map { try SeveralNodesTests.Node(sandbox, "node-\($0)") }
    let daemons = try nodes.map { try $0.start(sandbox, spool: server.url) }
    let waiter = try ChangeWaiter(folders: nodes.map(\.root))
    #expect(waiter.wait { daemons.allSatisfy { $0.log.contains("jobdrop running") } })
    for daemon in daemons { #expect(daemon.stop() == 0) }
    let upgraded = daemons.filter { $0.log.contains("shared spool upgraded") }
    #expect(upgraded.count == 1, "migrated once: \(daemons.map(\.log))")
    #expect(try SeveralNodesTests.rows(server, "SELECT version FROM jobdrop_schema") == [["3"]])
    #expect(
      try SeveralNodesTests.rows(server, "SELECT to_regclass('jobdrop_schedules') IS NOT NULL") == [["t"]])
    let jobs = try SeveralNodesTests.rows(server, "SELECT id, state FROM jobdrop_jobs ORDER BY id")
    #expect(jobs == [[UpgradeTests.bad, "failed"], [UpgradeTests.paid, "success"]])
    _ = try server.psql("UPDATE jobdrop_schema SET version = 4")
    let refused = try nodes[0].start(sandbox, spool: server.url)
    #expect(refused.wait(timeout: 30) == 1)
    #expect(
      refused.log.contains("shared spool format 4 is newer than this jobdrop (3); upgrade jobdrop"),
      "\(refused.log)")
  }
}
