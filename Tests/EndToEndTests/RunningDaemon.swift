import Foundation
import Testing

/// A `jobdrop run` process started on a sandbox, stopped by its own pid.
final class RunningDaemon {
  let pid: pid_t
  let logPath: String
  private var exited = false

  /// Starts `jobdrop run` on `sandbox`; with `launcher` (e.g. `setpriv` and its options) it runs under it;
  /// with `stderrPath` its stderr goes there (a FIFO, say) instead of to ``logPath``.
  init(
    _ sandbox: Sandbox, _ extra: [String] = [], launcher: [String] = [], stderrPath: String? = nil,
    environment: [String: String] = [:]
  ) throws {
    logPath = stderrPath ?? sandbox.root + "/daemon-\(UUID().uuidString).log"
    let command = launcher + [Sandbox.binary, "run"] + sandbox.paths + extra
    pid = try Spawn.start(
      command[0], Array(command.dropFirst()), directory: sandbox.root,
      environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
      stdoutPath: sandbox.root + "/daemon-\(UUID().uuidString).out", stderrPath: logPath)
  }

  deinit {
    if !exited {
      kill(pid, SIGKILL)
      _ = Spawn.wait(pid)
    }
  }

  /// Records that the process was waited for elsewhere.
  func markExited() { exited = true }

  var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  /// Waits up to `timeout` seconds for the process to exit by itself; returns its exit status (`nil`:
  /// it did not, and was killed).
  func wait(timeout: Double = 60) -> Int32? {
    exited = true
    return Spawn.wait(pid, timeout: timeout)
  }

  /// Sends `signal` and waits for the process to exit; returns its exit status.
  @discardableResult
  func stop(_ signal: Int32 = SIGTERM) -> Int32 {
    kill(pid, signal)
    exited = true
    return Spawn.wait(pid)
  }
}

extension Sandbox {
  /// Every job document in `outbox/jobs/`, parsed.
  func jobDocuments() -> [[String: Any]] {
    let folder = outbox + "/jobs"
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
      $0.hasSuffix(".json") && !$0.hasPrefix(".")
    }
    return names.compactMap { name in
      guard let data = FileManager.default.contents(atPath: folder + "/" + name),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else { return nil }
      return object["data"] as? [String: Any]
    }
  }

  /// The job documents by the file name they were dropped as.
  func jobsByFile() -> [String: [[String: Any]]] {
    Dictionary(grouping: jobDocuments()) {
      (($0["meta"] as? [String: Any])?["request"] as? [String: Any])?["file"] as? String ?? ""
    }
  }

  /// A waiter on the outbox's job documents and the index.
  func outboxWaiter() throws -> ChangeWaiter {
    try ChangeWaiter(folders: [outbox, outbox + "/jobs"])
  }
}
