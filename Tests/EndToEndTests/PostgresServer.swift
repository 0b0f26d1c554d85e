import Foundation
import Testing

/// A real PostgreSQL server in a temp folder on 127.0.0.1 and a free port, run as the `postgres` user
/// when the tests run as root, stopped by its own pid.
final class PostgresServer {
  static let binaries = "/usr/lib/postgresql/15/bin"
  static let password = "s3cret-pw"
  let directory: String
  let port: Int
  private(set) var pid: pid_t = 0

  /// `postgres://jobdrop:…@127.0.0.1:PORT/postgres`
  var url: String { "postgres://jobdrop:\(PostgresServer.password)@127.0.0.1:\(port)/postgres" }

  init(directory: String) throws {
    try #require(
      FileManager.default.isExecutableFile(atPath: PostgresServer.binaries + "/postgres"),
      "PostgreSQL 15 is not installed (make test installs it)")
    self.directory = directory + "/postgres"
    port = SFTPTests.SSHServer.freePort()
    try FileManager.default.createDirectory(
      atPath: self.directory + "/data", withIntermediateDirectories: true)
    try (PostgresServer.password + "\n").write(
      toFile: self.directory + "/pwfile", atomically: true, encoding: .utf8)
    if getuid() == 0 {
      _ = try Spawn.run("/bin/chown", ["-R", "postgres:postgres", self.directory])
    }
    let initdb = try Spawn.run(
      PostgresServer.command(PostgresServer.binaries + "/initdb").0,
      PostgresServer.command(PostgresServer.binaries + "/initdb").1 + [
        "-D", self.directory + "/data", "-U", "jobdrop", "--pwfile=" + self.directory + "/pwfile",
        "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
      ])
    try #require(initdb.status == 0, "initdb failed: \(initdb.stderr)")
    try start()
  }

  deinit { stop() }

  /// Runs a program as `postgres` when root (setpriv execs it, so the pid is the program's own).
  static func command(_ tool: String) -> (String, [String]) {
    getuid() == 0
      ? ("/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", tool]) : (tool, [])
  }

  func start() throws {
    let (tool, prefix) = PostgresServer.command(PostgresServer.binaries + "/postgres")
    pid = try Spawn.start(
      tool,
      prefix + [
        "-D", directory + "/data", "-k", directory, "-c", "listen_addresses=127.0.0.1", "-p", "\(port)", "-c",
        "fsync=off",
      ], stdoutPath: "/dev/null", stderrPath: directory + "/server-\(UUID().uuidString).log")
    // The server says nothing we can await: ask it with pg_isready until it takes connections (bounded).
    // An open port is not enough: while it starts up the server accepts and then refuses.
    let deadline = Date().addingTimeInterval(30)
    while !isReady() && Date() < deadline && kill(pid, 0) == 0 {
      usleep(20_000)
    }
    try #require(isReady(), "postgres did not start")
  }

  /// Whether the server takes connections (`pg_isready` exits 0; 1 while it is starting up).
  private func isReady() -> Bool {
    let probe = try? Spawn.run(
      PostgresServer.binaries + "/pg_isready", ["-q", "-h", "127.0.0.1", "-p", "\(port)", "-d", "postgres"])
    return probe?.status == 0
  }

  /// Fast shutdown (SIGINT) and wait.
  func stop() {
    guard pid > 0 else { return }
    kill(pid, SIGINT)
    _ = Spawn.wait(pid)
    pid = 0
  }

  /// Everything the server logged (each start's log file), for what it ran with `log_statement`.
  var log: String {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return files.filter { $0.hasSuffix(".log") }.sorted().compactMap {
      try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8)
    }.joined()
  }

  /// Runs SQL with psql.
  @discardableResult
  func psql(_ sql: String) throws -> Spawn.Output {
    try Spawn.run(
      "/usr/bin/psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
      environment: ProcessInfo.processInfo.environment)
  }
}
