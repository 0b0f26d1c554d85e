import Foundation
import Testing

/// Runs a program (by absolute path; it inherits the working directory) with `posix_spawn` and waits
/// for it with `waitpid`: stdin from /dev/null, stdout and
/// stderr to files. (Foundation's `Process.waitUntilExit` can miss a child's exit when many tests spawn
/// processes at once.)
enum Spawn {
  struct Output {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Starts `tool`; returns its pid. Output goes to `stdoutPath` and `stderrPath`.
  static func start(
    _ tool: String, _ arguments: [String], directory: String? = nil, environment: [String: String]? = nil,
    stdoutPath: String, stderrPath: String
  ) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = ([tool] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let env =
      (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { env.forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, tool, &actions, nil, argv, env)
    guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL) }
    return pid
  }

  /// Starts a Python helper of the tests (`Tests/<script>`) in `folder` and waits until it prints
  /// `listening`; returns its pid. Stop it with SIGKILL: the test process may ignore SIGTERM, and a
  /// child inherits that.
  static func startListening(script: String, _ arguments: [String], in folder: String, what: String) throws
    -> pid_t
  {
    let output = folder + "/stdout"
    let waiter = try ChangeWaiter(folders: [folder])
    let path = NginxTests.repository.appendingPathComponent("Tests/" + script).path
    let pid = try start(
      "/usr/bin/env", ["python3", path] + arguments, directory: folder, stdoutPath: output,
      stderrPath: folder + "/stderr")
    try #require(
      waiter.wait(timeout: 60) {
        (try? String(contentsOfFile: output, encoding: .utf8))?.contains("listening") == true
      },
      "\(what) did not start: \((try? String(contentsOfFile: folder + "/stderr", encoding: .utf8)) ?? "")")
    return pid
  }

  /// Waits for `pid` and returns its exit status (128 + signal when killed).
  static func wait(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    if status & 0x7F == 0 { return (status >> 8) & 0xFF }
    return 128 + (status & 0x7F)
  }

  /// Waits at most `timeout` seconds for `pid`; kills it (SIGKILL) and returns `nil` if it is still running.
  static func wait(_ pid: pid_t, timeout: Double) -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while Date() < deadline {
      let result = waitpid(pid, &status, WNOHANG)
      if result == pid { return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F) }
      usleep(10_000)
    }
    kill(pid, SIGKILL)
    _ = wait(pid)
    return nil
  }

  /// Runs `tool` to completion.
  static func run(
    _ tool: String, _ arguments: [String], directory: String? = nil, environment: [String: String]? = nil
  )
    throws -> Output
  {
    let base = NSTemporaryDirectory() + "jobdrop-spawn-\(UUID().uuidString)"
    defer {
      try? FileManager.default.removeItem(atPath: base + ".out")
      try? FileManager.default.removeItem(atPath: base + ".err")
    }
    let pid = try start(
      tool, arguments, directory: directory, environment: environment, stdoutPath: base + ".out",
      stderrPath: base + ".err")
    let status = wait(pid)
    return Output(
      status: status, stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
      stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
  }
}
