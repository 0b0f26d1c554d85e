import Foundation
import Testing

/// A real OpenSSH server on 127.0.0.1 and the real `sftp` client uploading into a watched inbox.
@Suite(.timeLimit(.minutes(10))) struct SFTPTests {
  /// An `sshd -D` with its own host key, authorized key and config in a temp folder.
  final class SSHServer {
    let directory: String
    let port: Int
    let pid: pid_t

    /// `extraConfiguration` goes at the end of sshd_config (`Match` blocks).
    /// `port`: the port of an earlier server in `directory`, started again with its keys.
    init(directory: String, extraConfiguration: String = "", port: Int? = nil) throws {
      self.directory = directory
      try #require(
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd"),
        "openssh-server is not installed (make test installs it)")
      if !FileManager.default.fileExists(atPath: "\(directory)/host_key") {
        for key in ["host_key", "client_key"] {
          try SSHServer.run(
            "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", "\(directory)/\(key)"])
        }
        try FileManager.default.copyItem(
          atPath: "\(directory)/client_key.pub", toPath: "\(directory)/authorized_keys")
        // Like any OpenSSH server, it has a host key of each kind (a client picks one).
        for (key, type) in [("host_key_rsa", "rsa"), ("host_key_ecdsa", "ecdsa")] {
          try SSHServer.run("/usr/bin/ssh-keygen", ["-q", "-t", type, "-N", "", "-f", "\(directory)/\(key)"])
        }
      }
      try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
      self.port = port ?? SSHServer.freePort()
      let config = """
        Port \(self.port)
        ListenAddress 127.0.0.1
        HostKey \(directory)/host_key_rsa
        HostKey \(directory)/host_key_ecdsa
        HostKey \(directory)/host_key
        PidFile \(directory)/sshd.pid
        AuthorizedKeysFile \(directory)/authorized_keys
        PubkeyAuthentication yes
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PermitRootLogin yes
        StrictModes no
        UsePAM no
        Subsystem sftp internal-sftp
        \(extraConfiguration)
        """
      try config.write(toFile: "\(directory)/sshd_config", atomically: true, encoding: .utf8)
      pid = try Spawn.start(
        "/usr/sbin/sshd", ["-D", "-e", "-f", "\(directory)/sshd_config"], stdoutPath: "/dev/null",
        stderrPath: "\(directory)/sshd.log")
      // sshd says nothing when it is ready: probe the port until it accepts (bounded).
      let deadline = Date().addingTimeInterval(15)
      while !SSHServer.accepts(port: self.port) && Date() < deadline && kill(pid, 0) == 0 {
        usleep(20_000)
      }
      try #require(
        SSHServer.accepts(port: self.port), "sshd did not start listening on 127.0.0.1:\(self.port)")
    }

    deinit { stop() }

    private var stopped = false

    /// Stops the server (its port stays free for another one in this folder).
    func stop() {
      guard !stopped else { return }
      stopped = true
      kill(pid, SIGTERM)
      _ = Spawn.wait(pid)
    }

    /// Runs the `sftp` client with `commands` as its batch file, as `user` (this process's by default).
    func sftp(_ commands: [String], user: String = NSUserName()) throws -> Sandbox.Result {
      let batch = "\(directory)/batch-\(UUID().uuidString)"
      try (commands.joined(separator: "\n") + "\n").write(toFile: batch, atomically: true, encoding: .utf8)
      return try SSHServer.run(
        "/usr/bin/sftp",
        [
          "-b", batch, "-P", "\(port)", "-i", "\(directory)/client_key", "-o", "StrictHostKeyChecking=no",
          "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "\(user)@127.0.0.1",
        ])
    }

    /// One of the server's host keys as a known_hosts line holds it (`ssh-ed25519 AAAA…`), for
    /// `host_key`: the Ed25519 one, or `ecdsa`, `rsa`.
    func hostKey(_ kind: String = "") throws -> String {
      try String(
        contentsOfFile: directory + "/host_key" + (kind.isEmpty ? "" : "_" + kind) + ".pub", encoding: .utf8
      )
      .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A host key of no server: a key pair made in `folder` (`other`, `other.pub`).
    static func otherHostKey(in folder: String) throws -> String {
      try run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", folder + "/other"])
      return try String(contentsOfFile: folder + "/other.pub", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> Sandbox.Result {
      let output = try Spawn.run(tool, arguments)
      return Sandbox.Result(status: output.status, stdout: output.stdout + output.stderr, stderr: "")
    }

    static func freePort() -> Int {
      let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      defer { close(socket) }
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      address.sin_port = 0
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
      }
      _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
      }
      return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(port: Int) -> Bool {
      let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      defer { close(socket) }
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      address.sin_port = UInt16(port).bigEndian
      let result = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      return result == 0
    }
  }

  @Test func uploadsWithPutRenameAndLegacyRenameBecomeOneJobEach() throws {
    let sandbox = try Sandbox(orders: 300)
    let server = try SSHServer(directory: sandbox.root)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--grace", "0"])
    let local = sandbox.root + "/upload.json"
    try Sandbox.request(filter: "eq(status,complete)").write(toFile: local, atomically: true, encoding: .utf8)
    let inbox = sandbox.inbox
    let result = try server.sftp([
      "put \(local) \(inbox)/put.json",
      "put \(local) \(inbox)/renamed.json.filepart",
      "rename \(inbox)/renamed.json.filepart \(inbox)/renamed.json",
      "put \(local) \(inbox)/linked.json.part",
      "rename -l \(inbox)/linked.json.part \(inbox)/linked.json",
    ])
    #expect(result.status == 0, "sftp failed: \(result.stdout)")
    let names = ["put.json", "renamed.json", "linked.json"]
    let done = waiter.wait {
      let jobs = sandbox.jobsByFile()
      return names.allSatisfy { jobs[$0]?.first?["status"] as? String == "success" }
    }
    #expect(done, "log:\n\(daemon.log)")
    let expected = try sandbox.query("SELECT id FROM orders WHERE status = 'complete'").count
    let jobs = sandbox.jobsByFile()
    for name in names {
      #expect(jobs[name]?.count == 1, "\(name)")
      #expect((jobs[name]?.first?["meta"] as? [String: Any])?["rows"] as? Int == expected)
    }
    #expect(jobs.count == 3)
    #expect(
      try ChangeWaiter(folders: [sandbox.inbox]).wait { sandbox.list("inbox").isEmpty },
      "claimed files leave the inbox")
    #expect(daemon.stop() == 0)
  }
}
