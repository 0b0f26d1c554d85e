import Foundation
import JobdropState
import JobdropSystem
import Testing

/// The intake's rules, held to by the SFTP clients partners use, against a real OpenSSH server: one upload
/// is one job whatever the client, the link or the timing, and no client is told of an error.
@Suite(.serialized, .timeLimit(.minutes(10))) struct IntakeTests {
  typealias SSHServer = SFTPTests.SSHServer

  /// A folder of `count` request files named `<prefix>-<n>.json` to upload.
  static func batch(_ sandbox: Sandbox, _ prefix: String, count: Int) throws -> (
    folder: String, names: [String]
  ) {
    let folder = sandbox.root + "/local-\(prefix)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let names = (0..<count).map { "\(prefix)-\($0).json" }
    for name in names {
      try Sandbox.request(filter: "eq(payment,paid)", extra: #", "reference": "\#(name)""#)
        .write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
    }
    return (folder, names)
  }

  static let clients = [
    "rclone copy", "sftp put -p", "sftp put + rename", "scp", "lftp mput", "curl", "paramiko",
  ]

  /// Uploads every file of `folder` into `inbox` with `client`; returns its exit status and output.
  static func upload(
    _ client: String, _ folder: String, _ names: [String], to inbox: String, via server: SSHServer
  ) throws -> (status: Int32, output: String) {
    let key = server.directory + "/client_key"
    let ssh = [
      "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    ]
    let user = NSUserName()
    func run(_ tool: String, _ arguments: [String], _ environment: [String: String] = [:]) throws -> (
      Int32, String
    ) {
      let output = try Spawn.run(
        tool, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
      return (output.status, output.stdout + output.stderr)
    }
    switch client {
    case "rclone copy":
      // rclone sets each file's modification time after its upload, on the final name.
      return try run(
        "/usr/bin/rclone", ["copy", "--config", "/dev/null", "-q", folder, "jd:" + inbox],
        [
          "RCLONE_CONFIG_JD_TYPE": "sftp", "RCLONE_CONFIG_JD_HOST": "127.0.0.1",
          "RCLONE_CONFIG_JD_PORT": "\(server.port)", "RCLONE_CONFIG_JD_USER": user,
          "RCLONE_CONFIG_JD_KEY_FILE": key,
        ])
    case "sftp put -p":
      let result = try server.sftp(names.map { "put -p \(folder)/\($0) \(inbox)/\($0)" })
      return (result.status, result.stdout)
    case "sftp put + rename":
      let result = try server.sftp(
        names.flatMap {
          ["put \(folder)/\($0) \(inbox)/\($0).filepart", "rename \(inbox)/\($0).filepart \(inbox)/\($0)"]
        })
      return (result.status, result.stdout)
    case "scp":
      return try run(
        "/usr/bin/scp",
        ["-q", "-p", "-P", "\(server.port)", "-i", key] + ssh + names.map { "\(folder)/\($0)" }
          + ["\(user)@127.0.0.1:\(inbox)/"])
    case "lftp mput":
      let connect = "ssh -a -x -i \(key) " + ssh.joined(separator: " ")
      return try run(
        "/usr/bin/lftp",
        [
          "-e",
          "set sftp:connect-program '\(connect)'; mput -O \(inbox) \(names.map { "\(folder)/\($0)" }.joined(separator: " ")); bye",
          "sftp://\(user):x@127.0.0.1:\(server.port)",
        ])
    case "curl":
      var status: Int32 = 0
      var output = ""
      for name in names {
        let (code, text) = try run(
          "/usr/bin/curl",
          [
            "-sS", "--insecure", "--key", key, "--pubkey", key + ".pub", "-T", "\(folder)/\(name)",
            "sftp://\(user)@127.0.0.1:\(server.port)\(inbox)/",
          ])
        status = max(status, code)
        output += text
      }
      return (status, output)
    default:
      let script = """
        import paramiko, sys
        transport = paramiko.Transport(("127.0.0.1", \(server.port)))
        transport.connect(username="\(user)", pkey=paramiko.Ed25519Key.from_private_key_file("\(key)"))
        sftp = paramiko.SFTPClient.from_transport(transport)
        for name in sys.argv[1:]:
            sftp.put("\(folder)/" + name, "\(inbox)/" + name)  # put() stats the file after it, as it checks the size
            sftp.utime("\(inbox)/" + name, (1_600_000_000, 1_600_000_000))
        transport.close()
        """
      return try run("/usr/bin/env", ["python3", "-c", script] + names)
    }
  }

  @Test(arguments: clients)
  func everyClientsUploadsBecomeOneJobEachAndTheClientReportsNoError(client: String) throws {
    let sandbox = try Sandbox(orders: 200)
    let server = try SSHServer(directory: sandbox.root)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--grace", "3s"])
    let prefix = client.split(separator: " ")[0].description
    let (folder, names) = try IntakeTests.batch(sandbox, prefix, count: 12)
    let (status, output) = try IntakeTests.upload(client, folder, names, to: sandbox.inbox, via: server)
    #expect(status == 0, "\(client) exited \(status): \(output)")
    #expect(
      !output.lowercased().contains("error") && !output.contains("No such file"), "\(client): \(output)")
    let done = waiter.wait {
      let jobs = sandbox.jobsByFile()
      return names.allSatisfy { jobs[$0]?.first?["status"] as? String == "success" }
    }
    #expect(done, "\(client): log:\n\(daemon.log.suffix(3000))")
    let jobs = sandbox.jobsByFile()
    for name in names {
      #expect(jobs[name]?.count == 1, "\(client): \(name) ran \(jobs[name]?.count ?? 0) times")
    }
    #expect(jobs.count == names.count, "\(client): \(jobs.keys.sorted())")
    // After the grace time the claimed files leave the inbox.
    let inbox = try ChangeWaiter(folders: [sandbox.inbox])
    #expect(inbox.wait(timeout: 20) { sandbox.list("inbox").isEmpty }, "\(sandbox.list("inbox"))")
    #expect(daemon.stop() == 0)
  }

  @Test func aSlowLinkWithPausesLongerThanTheSettleTimeIsOneSuccessfulJob() throws {
    let sandbox = try Sandbox(orders: 200)
    let server = try SSHServer(directory: sandbox.root)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--settle", "200ms", "--grace", "0"])
    // 300 KB of request (padded with spaces, which JSON allows) at 800 kbit/s: about three seconds, written
    // in 32 KB pieces about a third of a second apart, each quiet spell longer than the settle time.
    let padding = String(repeating: " ", count: 300_000)
    let local = sandbox.root + "/slow.json"
    try (#"{"data": {"type": "job", "job_type": "order_export","# + padding + #""reference": "slow"}}"#)
      .write(toFile: local, atomically: true, encoding: .utf8)
    let started = Date()
    let result = try SSHServer.run(
      "/usr/bin/sftp",
      [
        "-l", "800", "-P", "\(server.port)", "-i", "\(server.directory)/client_key", "-o",
        "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-b",
        try IntakeTests.batchFile(sandbox, ["put \(local) \(sandbox.inbox)/slow.json"]),
        "\(NSUserName())@127.0.0.1",
      ])
    #expect(result.status == 0, "\(result.stdout)")
    #expect(Date().timeIntervalSince(started) > 1.5, "the upload should have been slow")
    #expect(
      waiter.wait { sandbox.jobsByFile()["slow.json"]?.first?["status"] as? String == "success" },
      "log:\n\(daemon.log)")
    #expect(sandbox.jobsByFile()["slow.json"]?.count == 1)
    #expect(daemon.stop() == 0)
  }

  static func batchFile(_ sandbox: Sandbox, _ commands: [String]) throws -> String {
    let path = sandbox.root + "/batch-\(UUID().uuidString)"
    try (commands.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func aWriterThatStopsMidFileFailsOnceItHasClosedTheFileNotAfterTheSettleTime() throws {
    let sandbox = try Sandbox(orders: 10)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--settle", "10m", "--grace", "0"])
    #expect(waiter.wait { daemon.log.contains("watching the inbox") })
    let started = Date()
    ReliabilityTests.write(sandbox.inbox + "/died.json", Array(#"{"data": {"type": "job", "job_"#.utf8))
    #expect(
      waiter.wait(timeout: 30) { sandbox.jobsByFile()["died.json"]?.first?["status"] as? String == "failed" },
      "log:\n\(daemon.log)")
    #expect(Date().timeIntervalSince(started) < 30, "judged when its writer closed it, not ten minutes later")
    let error = sandbox.jobsByFile()["died.json"]?.first?["error"] as? String ?? ""
    #expect(error.hasPrefix("request is not valid JSON: unexpected end of input"), "\(error)")
    #expect(daemon.stop() == 0)
  }

  @Test func backToBackReUploadsUnderOneNameEachRunTheirOwnBytesAndTheLastAlwaysRuns() throws {
    let sandbox = try Sandbox(orders: 100)
    let server = try SSHServer(directory: sandbox.root)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--grace", "2s"])
    var commands: [String] = []
    let names = (0..<6).map { "again-\($0).json" }
    for version in 0..<5 {
      for (index, name) in names.enumerated() {
        let local = sandbox.root + "/\(name)-v\(version)"
        try Sandbox.request(extra: #", "reference": "\#(name) v\#(version)""#)
          .write(toFile: local, atomically: true, encoding: .utf8)
        // Half the names are rewritten in place, half replaced by a rename.
        if index % 2 == 0 {
          commands.append("put \(local) \(sandbox.inbox)/\(name)")
        } else {
          commands += [
            "put \(local) \(sandbox.inbox)/\(name).part",
            "rename \(sandbox.inbox)/\(name).part \(sandbox.inbox)/\(name)",
          ]
        }
      }
    }
    let result = try server.sftp(commands)
    #expect(result.status == 0, "\(result.stdout)")
    let done = waiter.wait {
      let jobs = sandbox.jobsByFile()
      return names.allSatisfy { name in
        jobs[name]?.contains {
          ($0["meta"] as? [String: Any]).flatMap { $0["request"] as? [String: Any] }?["reference"] as? String
            == "\(name) v4" && $0["status"] as? String == "success"
        } == true
      }
    }
    #expect(done, "the last upload of every name ran; log:\n\(daemon.log.suffix(3000))")
    // Every job ran the bytes it keeps: its spool copy says what its document says.
    for job in sandbox.jobDocuments() {
      let id = job["id"] as! String
      let reference = ((job["meta"] as? [String: Any])?["request"] as? [String: Any])?["reference"] as? String
      let kept = try String(contentsOfFile: sandbox.spool + "/requests/\(id).json", encoding: .utf8)
      #expect(reference.map { kept.contains(#""reference": "\#($0)""#) } == true, "\(id): \(kept)")
    }
    #expect(daemon.stop() == 0)
  }

  @Test func anUploadTheServiceCannotReadFailsAtOnceSayingWhy() throws {
    let sandbox = try Sandbox(orders: 10)
    // jobdrop as its own unprivileged user (nobody), as deploy/ runs it; the inbox writable by both.
    for folder in ["inbox", "spool", "outbox"] {
      try FileManager.default.createDirectory(
        atPath: sandbox.root + "/" + folder, withIntermediateDirectories: true)
    }
    let waiter = try sandbox.outboxWaiter()
    _ = try Spawn.run("/bin/chown", ["-R", "nobody:nogroup", sandbox.spool, sandbox.outbox, sandbox.inbox])
    chmod(sandbox.root, 0o755)
    chmod(sandbox.inbox, 0o777)
    let daemon = try RunningDaemon(
      sandbox, ["--grace", "0"],
      launcher: ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"])
    #expect(waiter.wait { daemon.log.contains("watching the inbox") }, "log:\n\(daemon.log)")
    let path = sandbox.inbox + "/private.json"
    ReliabilityTests.write(path + ".part", Array(Sandbox.request().utf8))
    chmod(path + ".part", 0o600)
    rename(path + ".part", path)
    #expect(
      waiter.wait { sandbox.jobsByFile()["private.json"]?.first?["status"] as? String == "failed" },
      "log:\n\(daemon.log)")
    let error = sandbox.jobsByFile()["private.json"]?.first?["error"] as? String ?? ""
    #expect(
      error.hasPrefix("request file is not readable by the service (mode 0600, owner uid \(getuid()))"),
      "\(error)")
    #expect(
      try ChangeWaiter(folders: [sandbox.inbox]).wait { sandbox.list("inbox").isEmpty },
      "claimed and taken away like any other request")
    #expect(daemon.stop() == 0)
  }
}
