import Foundation
import Testing

/// One chrooted SFTP-only account per partner, set up as deploy/README.md says, against a real OpenSSH
/// server: each partner sees its own drop folder (writable) and its own site (read-only), nothing else.
@Suite(.serialized, .timeLimit(.minutes(10))) struct PartnerSFTPTests {
  /// Runs a setup command; it must succeed.
  static func must(_ tool: String, _ arguments: [String]) throws {
    let result = try Spawn.run(tool, arguments)
    try #require(result.status == 0, "\(tool) \(arguments): \(result.stdout)\(result.stderr)")
  }

  /// A system account `user` without a shell that may log in with a key (made once).
  static func account(_ user: String) throws {
    if try Spawn.run("/usr/bin/id", [user]).status != 0 {
      try must("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user])
    }
    // No password, but not locked ("!"): sshd refuses a locked account even a key.
    try must("/usr/sbin/usermod", ["-p", "*", user])
  }

  @Test func aPartnerCanNeitherListNorReadAnotherPartnersFolders() throws {
    let sandbox = try Sandbox(orders: 300)
    let options = try PartnersTests.serve(sandbox)
    try sandbox.process(options)  // creates inbox/<id>/ and outbox/<id>/
    let accounts = [("jdacme", "acme"), ("jdglobex", "globex")]
    for (user, _) in accounts { try PartnerSFTPTests.account(user) }
    // sshd wants every component of a chroot owned by root and writable by nobody else: not under /tmp.
    let chroots = "/srv/jobdrop-sftp-\(UUID().uuidString.lowercased())"
    var mounts: [String] = []
    defer {
      for mount in mounts.reversed() { _ = try? Spawn.run("/usr/bin/umount", [mount]) }
      try? FileManager.default.removeItem(atPath: chroots)
    }
    for (user, partner) in accounts {
      let chroot = "\(chroots)/\(user)"
      for folder in [chroot, chroot + "/inbox", chroot + "/outbox"] {
        try FileManager.default.createDirectory(
          atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
      }
      chmod(chroots, 0o755)
      // The partner owns its drop folder (jobdrop, root here, reads it all the same).
      try PartnerSFTPTests.must("/usr/bin/chown", [user, "\(sandbox.inbox)/\(partner)"])
      chmod("\(sandbox.inbox)/\(partner)", 0o700)
      try PartnerSFTPTests.must(
        "/usr/bin/mount", ["--bind", "\(sandbox.inbox)/\(partner)", chroot + "/inbox"])
      mounts.append(chroot + "/inbox")
      try PartnerSFTPTests.must(
        "/usr/bin/mount", ["--bind", "\(sandbox.outbox)/\(partner)", chroot + "/outbox"])
      mounts.append(chroot + "/outbox")
      try PartnerSFTPTests.must("/usr/bin/mount", ["-o", "remount,bind,ro", chroot + "/outbox"])
    }
    let server = try SFTPTests.SSHServer(
      directory: sandbox.root,
      extraConfiguration: """
        Match User jdacme,jdglobex
            ChrootDirectory \(chroots)/%u
            ForceCommand internal-sftp -u 0027 -d /inbox
            AllowTcpForwarding no
            X11Forwarding no
        """)
    let local = sandbox.root + "/upload.json"
    try PartnersTests.paidOrders.write(toFile: local, atomically: true, encoding: .utf8)

    // Its own drop folder: writable; a plain upload is 0640 (the umask).
    chmod(local, 0o644)
    let upload = try server.sftp(["put \(local) mine.json"], user: "jdacme")
    #expect(upload.status == 0, "\(upload.stdout)")
    let uploaded = try FileManager.default.attributesOfItem(atPath: "\(sandbox.inbox)/acme/mine.json")
    #expect(uploaded[.posixPermissions] as? Int == 0o640)
    // Its view: its inbox and its site, read-only.
    let root = try server.sftp(["ls -1 /"], user: "jdacme")
    #expect(root.status == 0)
    #expect(
      Set(
        root.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
          !$0.hasPrefix("sftp>") && !$0.isEmpty
        }) == ["/inbox", "/outbox"])
    let index = try server.sftp(["get /outbox/index.json \(sandbox.root)/acme-index.json"], user: "jdacme")
    #expect(index.status == 0, "\(index.stdout)")
    #expect(
      try Data(contentsOf: URL(fileURLWithPath: "\(sandbox.root)/acme-index.json"))
        == (try Data(contentsOf: URL(fileURLWithPath: "\(sandbox.outbox)/acme/index.json"))))
    #expect(try server.sftp(["put \(local) /outbox/forged.json"], user: "jdacme").status != 0)
    #expect(!FileManager.default.fileExists(atPath: "\(sandbox.outbox)/acme/forged.json"))

    // Nothing of globex's, by any path.
    for command in [
      "ls \(sandbox.inbox)/globex", "ls \(sandbox.outbox)/globex",
      "get \(sandbox.outbox)/globex/index.json /dev/null",
      "ls /../jdglobex", "ls \(chroots)/jdglobex", "get ../../jdglobex/outbox/index.json /dev/null",
      "ls \(sandbox.inbox)", "ls \(sandbox.outbox)",
    ] {
      let attempt = try server.sftp([command], user: "jdacme")
      #expect(attempt.status != 0, "jdacme ran `\(command)`: \(attempt.stdout)")
    }
    // globex's account works the same, in its own folder.
    #expect(try server.sftp(["put \(local) theirs.json"], user: "jdglobex").status == 0)
    #expect(FileManager.default.fileExists(atPath: "\(sandbox.inbox)/globex/theirs.json"))

    // The uploads are each partner's jobs.
    try sandbox.process(options)
    #expect(try PartnersTests.jobs(sandbox.outbox, "acme")["mine.json"]?["status"] as? String == "success")
    #expect(
      try PartnersTests.jobs(sandbox.outbox, "globex")["theirs.json"]?["status"] as? String == "success")
  }
}
