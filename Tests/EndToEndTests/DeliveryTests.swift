import Foundation
import Testing

@testable import JobdropCrypto

/// `deliver`: exports pushed into partners' own SFTP servers (OpenSSH's sshd) and buckets (moto), OpenPGP
/// encrypted with `gpg`, read back and compared with the published files.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DeliveryTests {
  /// A partner's token (each partner's must differ).
  static func token(_ partner: String) -> String { "\(partner)-delivery-secret-token-0123456789abcdef" }

  /// The job documents of `partner`'s site, by request file.
  func jobs(_ sandbox: Sandbox, _ partner: String) -> [String: [String: Any]] {
    (try? PartnersTests.jobs(sandbox.outbox, partner)) ?? [:]
  }

  /// `meta.delivery` of `partner`'s job dropped as `file` (`""`: without partners).
  func delivery(_ sandbox: Sandbox, _ partner: String, _ file: String) -> [String: Any]? {
    let job =
      partner.isEmpty
      ? (try? sandbox.index())?.first { job in
        ((job["meta"] as? [String: Any])?["request"] as? [String: Any])?["file"] as? String == file
      } : jobs(sandbox, partner)[file]
    return (job?["meta"] as? [String: Any])?["delivery"] as? [String: Any]
  }

  /// The outbox files of a job, in the order they are delivered (parts, then the manifest).
  func files(_ sandbox: Sandbox, _ partner: String, _ job: [String: Any]) throws -> [String] {
    let id = job["id"] as! String
    let names = sandbox.list("outbox/\(partner)/files/\(id)")
    return names.filter { $0 != "manifest.json" } + names.filter { $0 == "manifest.json" }
  }

  /// A real sshd with its keys in `ssh/`, and the empty folder `received/` for files delivered into it.
  static func receivingServer(_ sandbox: Sandbox) throws -> (SFTPTests.SSHServer, String, String) {
    let sshFolder = sandbox.root + "/ssh"
    try FileManager.default.createDirectory(atPath: sshFolder, withIntermediateDirectories: true)
    let server = try SFTPTests.SSHServer(directory: sshFolder)
    let received = sandbox.root + "/received"
    try FileManager.default.createDirectory(atPath: received, withIntermediateDirectories: true)
    return (server, sshFolder, received)
  }

  @Test func sftpFilesArriveWholeUnderTheirJobIDAndAWrongHostKeySendsNothing() throws {
    let sandbox = try Sandbox(orders: 3000)
    let (server, sshFolder, received) = try DeliveryTests.receivingServer(sandbox)
    // Every name that appears in the target folder, and how (a watcher the whole time).
    let watcher = try DeliveryTests.watch(received, log: sandbox.root + "/watch.log")
    defer {
      kill(watcher, SIGKILL)  // the test process may ignore SIGTERM, and a child inherits that
      _ = Spawn.wait(watcher)
    }
    let hostKey = try server.hostKey()
    let otherKey = try SFTPTests.SSHServer.otherHostKey(in: sandbox.root)
    let url = "sftp://\(NSUserName())@127.0.0.1:\(server.port)\(received)"
    let partners = """
      {"partners": [
        {"id": "acme", "token": "\(DeliveryTests.token("acme"))", "scope": {"*": "in(store,store-1,store-2)"},
         "deliver": {"url": "\(url)", "host_key": "\(hostKey)", "private_key_file": "\(sshFolder)/client_key"}},
        {"id": "mallory", "token": "\(DeliveryTests.token("mallory"))", "scope": {"*": "in(store,store-1,store-2)"},
         "deliver": {"url": "\(url)", "host_key": "\(otherKey)", "private_key_file": "\(sshFolder)/client_key"}},
        {"id": "initech", "token": "\(DeliveryTests.token("initech"))", "scope": {"*": "in(store,store-1,store-2)"},
         "deliver": {"url": "\(url)", "host_key": "[127.0.0.1]:\(server.port) \(try server.hostKey("ecdsa"))",
                     "private_key_file": "\(sshFolder)/client_key"}}
      ]}
      """
    let waiter = try ChangeWaiter(folders: [
      sandbox.outbox + "/acme/jobs", sandbox.outbox + "/mallory/jobs", sandbox.outbox + "/initech/jobs",
      sandbox.outbox + "/acme", sandbox.outbox + "/mallory",
    ])
    let daemon = try RunningDaemon(
      sandbox, try PartnersTests.serve(sandbox, partners),
      environment: ["JOBDROP_WEBHOOK_RETRY_SCALE": "0.01"])
    defer { daemon.stop() }
    try PartnersTests.drop(sandbox, "acme", "all.json", Sandbox.request())
    try PartnersTests.drop(
      sandbox, "acme", "parts.json", Sandbox.request(extra: #", "split": {"rows": 1000}"#))
    try PartnersTests.drop(sandbox, "mallory", "all.json", Sandbox.request())
    try PartnersTests.drop(sandbox, "initech", "all.json", Sandbox.request())
    // acme pinned the server's Ed25519 key, initech its ECDSA key as ssh-keyscan prints it (host first):
    // the server offers RSA, ECDSA and Ed25519, and each delivery asks for the kind pinned.
    let delivered = [("acme", "all.json"), ("acme", "parts.json"), ("initech", "all.json")]
    let arrived = waiter.wait {
      delivered.allSatisfy { delivery(sandbox, $0.0, $0.1)?["delivered_at"] != nil }
        && (delivery(sandbox, "mallory", "all.json")?["attempts"] as? Int ?? 0) >= 2
    }
    #expect(arrived, "\(daemon.log)")
    // Each at its first attempt (mallory's wrong pin for the same server disturbs nobody else's).
    let failed = daemon.log.split(separator: "\n").filter {
      $0.contains("delivery attempt failed") && !$0.contains("partner=mallory")
    }
    #expect(failed.isEmpty, "\(failed)")
    // Every file of acme's and initech's jobs arrived, byte for byte, under a name that holds its job id.
    var expected: [String] = []
    for (partner, file) in delivered {
      let job = try #require(jobs(sandbox, partner)[file])
      let id = job["id"] as! String
      for name in try files(sandbox, partner, job) {
        let mine = try sandbox.outboxFile("\(partner)/files/\(id)/\(name)")
        let theirs = try Data(contentsOf: URL(fileURLWithPath: "\(received)/\(id)-\(name)"))
        #expect(mine == theirs, "\(name)")
        expected.append("\(id)-\(name)")
      }
      let meta = try #require(delivery(sandbox, partner, file))
      #expect((meta["url"] as? String)?.hasPrefix("sftp://") == true)
      let last = (meta["url"] as! String).split(separator: "/").last.map(String.init) ?? ""
      #expect(
        meta["sha256"] as? String
          == SHA256Digest.hex(of: Array(try Data(contentsOf: URL(fileURLWithPath: "\(received)/\(last)")))))
    }
    #expect(sandbox.list("received") == expected.sorted(), "nothing else, no temp file left")
    // The wrong host key: nothing sent, and the error says why.
    let refused = try #require(delivery(sandbox, "mallory", "all.json"))
    #expect(
      (refused["last_error"] as? String)?.contains("host key does not match host_key") == true, "\(refused)")
    #expect(refused["delivered_at"] == nil)
    // The job pages say so too, without their script.
    let pages = waiter.wait {
      let acme = (try? String(contentsOfFile: sandbox.outbox + "/acme/index.html", encoding: .utf8)) ?? ""
      let mallory =
        (try? String(contentsOfFile: sandbox.outbox + "/mallory/index.html", encoding: .utf8)) ?? ""
      return acme.components(separatedBy: "<span class=\"delivery\" title=\"sftp://").count == 3
        && mallory.contains("delivery retrying after") && mallory.contains("host key does not match host_key")
    }
    #expect(pages, "the job pages do not show the deliveries")
    try DeliveryTests.expectOnlyCompleteNames(watchLog: sandbox.root + "/watch.log", expected)
    // The private key is named in no document, log or spool file.
    let key = try String(contentsOfFile: sshFolder + "/client_key", encoding: .utf8)
    let body = key.split(separator: "\n").dropFirst().first.map(String.init) ?? "unreadable"
    try DeliveryTests.expectNowhere(body, in: [sandbox.outbox, sandbox.spool], log: daemon.log)
  }

  /// The server down through a burst and the daemon killed: once both are back every file arrives, once,
  /// and the target folder never shows a name before its file is complete. The receiving account is
  /// a bank-style drop: chrooted, SFTP only, and jobdrop's key is protected by a passphrase.
  @Test func aServerDownAndAKillLoseNoDelivery() throws {
    let sandbox = try Sandbox(orders: 300)
    let sshFolder = sandbox.root + "/ssh"
    try FileManager.default.createDirectory(atPath: sshFolder, withIntermediateDirectories: true)
    let account = try ChrootedAccount(user: "jdrecv")
    defer { account.remove() }
    var server = try SFTPTests.SSHServer(directory: sshFolder, extraConfiguration: account.configuration)
    let port = server.port
    server.stop()
    // jobdrop's own key, encrypted; its passphrase in a file only jobdrop reads.
    let passphrase = "correct horse \(UUID().uuidString)"
    try SFTPTests.SSHServer.run(
      "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", sshFolder + "/deliver_key"])
    let authorized = try FileHandle(forWritingTo: URL(fileURLWithPath: sshFolder + "/authorized_keys"))
    try authorized.seekToEnd()
    try authorized.write(
      contentsOf: try Data(contentsOf: URL(fileURLWithPath: sshFolder + "/deliver_key.pub")))
    try authorized.close()
    try (passphrase + "\n").write(toFile: sshFolder + "/passphrase", atomically: true, encoding: .utf8)
    chmod(sshFolder + "/passphrase", 0o600)
    let received = account.incoming
    let watcher = try DeliveryTests.watch(received, log: sandbox.root + "/watch.log")
    defer {
      kill(watcher, SIGKILL)
      _ = Spawn.wait(watcher)
    }
    let hostKey = try server.hostKey()
    let options = [
      "--deliver", "sftp://\(account.user)@127.0.0.1:\(port)/incoming", "--deliver-host-key", hostKey,
      "--deliver-private-key-file", sshFolder + "/deliver_key", "--deliver-private-key-passphrase-file",
      sshFolder + "/passphrase",
    ]
    let environment = ["JOBDROP_WEBHOOK_RETRY_SCALE": "0.01"]
    let waiter = try sandbox.outboxWaiter()
    let first = try RunningDaemon(sandbox, options, environment: environment)
    let names = (1...20).map { "burst-\($0).json" }
    for name in names { sandbox.drop(name, Sandbox.request(filter: "eq(payment,paid)")) }
    #expect(PublishTests.waitForJobs(sandbox, names, waiter), "\(first.log)")
    #expect(
      waiter.wait {
        let jobs = sandbox.jobsByFile()
        return names.allSatisfy { name in
          ((jobs[name]?.first?["meta"] as? [String: Any])?["delivery"] as? [String: Any])?["attempts"] as? Int
            ?? 0
            >= 1
        }
      }, "\(first.log)")
    first.stop(SIGKILL)
    #expect(try FileManager.default.contentsOfDirectory(atPath: received).isEmpty)
    // What waits is what an operator sees.
    let waiting = try sandbox.run(["status", "--spool", sandbox.spool])
    #expect(waiting.stdout.contains("20 deliveries waiting in this spool"), "\(waiting.stdout)")
    #expect(waiting.stdout.contains("; last error: 127.0.0.1:\(port): "), "\(waiting.stdout)")
    server = try SFTPTests.SSHServer(
      directory: sshFolder, extraConfiguration: account.configuration, port: port)
    let second = try RunningDaemon(sandbox, options, environment: environment)
    defer { second.stop() }
    let delivered = waiter.wait {
      let jobs = sandbox.jobsByFile()
      return names.allSatisfy { name in
        ((jobs[name]?.first?["meta"] as? [String: Any])?["delivery"] as? [String: Any])?["delivered_at"]
          != nil
      }
    }
    #expect(delivered, "\(second.log)")
    let jobs = sandbox.jobsByFile()
    var expected: [String] = []
    for name in names {
      let job = try #require(jobs[name]?.first)
      let id = job["id"] as! String
      let href = (job["link"] as! [String: Any])["href"] as! String
      let file = String(href.split(separator: "/").last!)
      #expect(
        try Data(contentsOf: URL(fileURLWithPath: "\(received)/\(id)-\(file)")) == sandbox.outboxFile(href))
      let meta = (job["meta"] as! [String: Any])["delivery"] as! [String: Any]
      #expect(meta["url"] as? String == "sftp://\(account.user)@127.0.0.1:\(port)/incoming/\(id)-\(file)")
      expected.append("\(id)-\(file)")
    }
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: received).sorted() == expected.sorted(),
      "each once, no temp file")
    // The files belong to the receiving account (written by its SFTP session, not by anyone else).
    let owner = try FileManager.default.attributesOfItem(atPath: "\(received)/\(expected[0])")[
      .ownerAccountName]
    #expect(owner as? String == account.user)
    try DeliveryTests.expectOnlyCompleteNames(watchLog: sandbox.root + "/watch.log", expected)
    let status = try sandbox.run(["status", "--spool", sandbox.spool])
    #expect(status.status == 0 && !status.stdout.contains("waiting in this spool"), "\(status.stdout)")
    try DeliveryTests.expectNowhere(
      passphrase, in: [sandbox.outbox, sandbox.spool], log: first.log + second.log)
    _ = server
  }

  /// Killed right after a file arrived and before that was recorded (the debug build kills itself
  /// there): the restart pushes it again, finds the same bytes under its name, and goes on; every file
  /// is there once.
  @Test func aRepeatAfterAKillFindsItsFileAndGoesOn() throws {
    let sandbox = try Sandbox(orders: 3000)
    let (server, sshFolder, received) = try DeliveryTests.receivingServer(sandbox)
    let hostKey = try server.hostKey()
    let options = [
      "--deliver", "sftp://\(NSUserName())@127.0.0.1:\(server.port)\(received)", "--deliver-host-key",
      hostKey,
      "--deliver-private-key-file", sshFolder + "/client_key",
    ]
    sandbox.drop("parts.json", Sandbox.request(extra: #", "split": {"rows": 1000}"#))
    let first = try RunningDaemon(sandbox, options, environment: ["JOBDROP_CRASH_AT": "file-delivered#2"])
    #expect(first.wait(timeout: 120) == 128 + SIGKILL, "\(first.log)")
    #expect(
      sandbox.list("received").filter { !$0.hasPrefix(".") }.count == 2, "two files arrived before the kill")
    let waiter = try sandbox.outboxWaiter()
    let second = try RunningDaemon(sandbox, options)
    defer { second.stop() }
    #expect(waiter.wait { delivery(sandbox, "", "parts.json")?["delivered_at"] != nil }, "\(second.log)")
    let job = try sandbox.job(file: "parts.json")
    let id = job["id"] as! String
    let names = sandbox.list("outbox/files/\(id)")
    #expect(sandbox.list("received") == names.map { "\(id)-\($0)" }.sorted(), "each file once, no temp file")
    for name in names {
      #expect(
        try Data(contentsOf: URL(fileURLWithPath: "\(received)/\(id)-\(name)"))
          == sandbox.outboxFile("files/\(id)/\(name)"))
    }
    #expect(!second.log.contains("delivery attempt failed"), "the repeat is not an error")
  }

  /// Into a bucket (moto, signatures checked), encrypted with OpenPGP: the object decrypts with `gpg` to
  /// the export; wrong credentials are a clear error; no secret is written anywhere.
  @Test func aBucketGetsTheEncryptedFileAndWrongCredentialsSaySo() throws {
    let sandbox = try Sandbox(orders: 500)
    let s3 = try PublishTests.S3Server(sandbox, bucket: "partner-lake", auth: true)
    // A key pair of the partner's, in a keyring of its own.
    let home = sandbox.root + "/partner-gnupg"
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    chmod(home, 0o700)
    let generated = try Spawn.run(
      "/usr/bin/gpg",
      [
        "--batch", "--homedir", home, "--passphrase", "", "--quick-gen-key", "lake@partner.example",
        "default",
        "default", "never",
      ])
    try #require(generated.status == 0, "\(generated.stderr)")
    let exported = try Spawn.run(
      "/usr/bin/gpg", ["--batch", "--homedir", home, "--armor", "--export", "lake@partner.example"])
    try exported.stdout.write(toFile: sandbox.root + "/lake.asc", atomically: true, encoding: .utf8)
    let credentials = sandbox.root + "/lake-credentials"
    try "[default]\naws_access_key_id = \(s3.key)\naws_secret_access_key = \(s3.secret)\n".write(
      toFile: credentials, atomically: true, encoding: .utf8)
    try "[default]\naws_access_key_id = \(s3.key)\naws_secret_access_key = not-the-secret\n".write(
      toFile: sandbox.root + "/wrong-credentials", atomically: true, encoding: .utf8)
    let partners = """
      {"partners": [
        {"id": "lake", "token": "\(DeliveryTests.token("lake"))", "scope": {"*": "in(store,store-1,store-2)"},
         "deliver": {"url": "s3://partner-lake/incoming", "endpoint": "\(s3.endpoint)",
                     "credentials_file": "\(credentials)", "encrypt_to": "\(sandbox.root)/lake.asc"}},
        {"id": "wrong", "token": "\(DeliveryTests.token("wrong"))", "scope": {"*": "in(store,store-1,store-2)"},
         "deliver": {"url": "s3://partner-lake/wrong", "endpoint": "\(s3.endpoint)",
                     "credentials_file": "\(sandbox.root)/wrong-credentials"}}
      ]}
      """
    let waiter = try ChangeWaiter(folders: [sandbox.outbox + "/lake/jobs", sandbox.outbox + "/wrong/jobs"])
    let daemon = try RunningDaemon(
      sandbox, try PartnersTests.serve(sandbox, partners),
      environment: ["JOBDROP_WEBHOOK_RETRY_SCALE": "0.01"])
    defer { daemon.stop() }
    try PartnersTests.drop(sandbox, "lake", "all.json", Sandbox.request(extra: #", "format": "csv.gz""#))
    try PartnersTests.drop(sandbox, "wrong", "all.json", Sandbox.request())
    #expect(
      waiter.wait {
        delivery(sandbox, "lake", "all.json")?["delivered_at"] != nil
          && (delivery(sandbox, "wrong", "all.json")?["attempts"] as? Int ?? 0) >= 2
      }, "\(daemon.log)")
    let job = try #require(jobs(sandbox, "lake")["all.json"])
    let id = job["id"] as! String
    let href = (job["link"] as! [String: Any])["href"] as! String
    let name = String(href.split(separator: "/").last!)
    let object = sandbox.root + "/object.pgp"
    let got = try Spawn.run(
      "/usr/bin/env",
      [
        "python3", PublishTests.script, "get", s3.endpoint, "partner-lake", "incoming/\(id)-\(name).pgp",
        object,
      ],
      environment: ProcessInfo.processInfo.environment.merging(s3.environment) { $1 })
    try #require(got.status == 0, "\(got.stderr)")
    let decrypted = sandbox.root + "/object"
    let plain = try Spawn.run(
      "/usr/bin/gpg", ["--batch", "--homedir", home, "--output", decrypted, "--decrypt", object])
    #expect(plain.status == 0, "\(plain.stderr)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: decrypted)) == sandbox.outboxFile("lake/" + href))
    let meta = try #require(delivery(sandbox, "lake", "all.json"))
    #expect(meta["url"] as? String == "s3://partner-lake/incoming/\(id)-\(name).pgp")
    #expect(
      meta["sha256"] as? String
        == SHA256Digest.hex(of: Array(try Data(contentsOf: URL(fileURLWithPath: object)))))
    let refused = try #require(delivery(sandbox, "wrong", "all.json"))
    #expect((refused["last_error"] as? String)?.contains("SignatureDoesNotMatch") == true, "\(refused)")
    try DeliveryTests.expectNowhere(s3.secret, in: [sandbox.outbox, sandbox.spool], log: daemon.log)
  }

  /// `secret` appears in no file under `folders` and not in `log`.
  static func expectNowhere(_ secret: String, in folders: [String], log: String) throws {
    #expect(!log.contains(secret), "the log holds a secret")
    for folder in folders {
      guard let walker = FileManager.default.enumerator(atPath: folder) else { continue }
      for case let path as String in walker {
        let full = folder + "/" + path
        guard let data = FileManager.default.contents(atPath: full) else { continue }
        #expect(!String(decoding: data, as: UTF8.self).contains(secret), "\(full) holds a secret")
      }
    }
  }

  /// Starts a watcher writing every name created, moved in or closed after writing in `folder` to `log`.
  static func watch(_ folder: String, log: String) throws -> pid_t {
    let watcher = try Spawn.start(
      "/usr/bin/inotifywait",
      ["-m", "-e", "create,moved_to,close_write", "--format", "%e %f", folder],
      stdoutPath: log, stderrPath: log + ".err")
    // It says on stderr when its watch is in place (bounded: a watcher that never says so fails the test).
    let deadline = Date().addingTimeInterval(10)
    while !((try? String(contentsOfFile: log + ".err", encoding: .utf8)) ?? "").contains(
      "Watches established"),
      Date() < deadline, kill(watcher, 0) == 0
    {
      usleep(10_000)
    }
    try #require(
      ((try? String(contentsOfFile: log + ".err", encoding: .utf8)) ?? "").contains("Watches established"),
      "inotifywait did not start watching \(folder)")
    return watcher
  }

  /// In a watcher's log (``watch(_:log:)``), each of `names` appeared once, only after its temp file
  /// was written and closed (OpenSSH's rename links the complete file in: IN_CREATE, or IN_MOVED_TO),
  /// and was never written in place.
  static func expectOnlyCompleteNames(watchLog: String, _ names: [String]) throws {
    let events = try String(contentsOfFile: watchLog, encoding: .utf8)
      .split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
    for name in names {
      let seen = events.indices.filter { events[$0].count == 2 && events[$0][1] == name }
      let written = events.firstIndex {
        $0.count == 2 && $0[1] == ".\(name).part" && $0[0].hasPrefix("CLOSE_WRITE")
      }
      #expect(
        seen.count == 1 && ["CREATE", "MOVED_TO"].contains(events[seen[0]][0]),
        "\(name): \(seen.map { events[$0] })")
      #expect(
        written.map { $0 < (seen.first ?? 0) } == true, "\(name) appeared before its upload was complete")
    }
  }

  /// A partner's receiving account as a bank-style drop has it: SFTP only, chrooted (the root owned by
  /// root, as sshd wants), writing into `incoming/`, which the account owns.
  struct ChrootedAccount {
    let user: String
    let root: String
    var incoming: String { root + "/incoming" }
    /// sshd's `Match` block for the account.
    var configuration: String {
      """
      Match User \(user)
          ChrootDirectory \(root)
          ForceCommand internal-sftp
          AllowTcpForwarding no
          X11Forwarding no
      """
    }

    init(user: String) throws {
      self.user = user
      try PartnerSFTPTests.account(user)
      // Not under /tmp: every component of a chroot must be owned by root and writable by nobody else.
      root = "/srv/jobdrop-receive-\(UUID().uuidString.lowercased())"
      try FileManager.default.createDirectory(
        atPath: incoming, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
      chmod(root, 0o755)
      try PartnerSFTPTests.must("/usr/bin/chown", [user, incoming])
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
  }

}
