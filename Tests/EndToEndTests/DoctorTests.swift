import Foundation
import Testing

/// `jobdrop doctor` on a good setup and on broken ones: each fault named with what to do, the exit code,
/// and the JSON for scripts.
@Suite(.timeLimit(.minutes(10))) struct DoctorTests {
  static func doctor(_ sandbox: Sandbox, _ extra: [String] = [], json: Bool = false) throws -> Sandbox.Result
  {
    try sandbox.run(["doctor"] + sandbox.paths + extra + (json ? ["--json"] : []))
  }

  /// The line of check `name`.
  static func line(_ result: Sandbox.Result, _ name: String) -> String {
    result.stdout.split(separator: "\n").first { $0.dropFirst(6).hasPrefix(name + " ") }.map(String.init)
      ?? ""
  }

  @Test func aGoodSetupPassesEveryCheckAndSkipsWhatIsNotConfigured() throws {
    let sandbox = try Sandbox(orders: 10)
    try sandbox.process()
    let result = try DoctorTests.doctor(sandbox)
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    for name in ["inbox", "spool", "file system", "outbox", "source"] {
      #expect(DoctorTests.line(result, name).hasPrefix("ok "), "\(name): \(result.stdout)")
    }
    #expect(DoctorTests.line(result, "partners").hasPrefix("skip"))
    #expect(DoctorTests.line(result, "bucket").hasPrefix("skip"))
    let json = try DoctorTests.doctor(sandbox, json: true)
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    #expect(object?["ok"] as? Bool == true)
    #expect((object?["checks"] as? [[String: Any]])?.count == 11)
  }

  /// The web server's configuration written by serve-config for the partners, then a partner added to
  /// the partners file: out of step, saying how to write it again.
  @Test func aWebServerConfigurationOutOfStepWithThePartnersFails() throws {
    let sandbox = try Sandbox(orders: 10)
    let options = try PartnersTests.serve(sandbox)
    let folder = sandbox.root + "/nginx"
    let served = try sandbox.run(
      ["serve-config", "nginx", "--outbox", sandbox.outbox, "--listen", "127.0.0.1:8080", "--out", folder]
        + options)
    #expect(served.status == 0, "\(served.stderr)")
    let inStep = try DoctorTests.doctor(sandbox, options + ["--nginx-config", folder])
    #expect(DoctorTests.line(inStep, "web server").hasPrefix("ok "), "\(inStep.stdout)")
    let more = PartnersTests.partners.replacingOccurrences(
      of: "\n]}",
      with:
        #",\n  {"id": "hooli", "token": "hooli-secret-token-0123456789abcdefABCDEF", "scope": {"*": "eq(store,store-2)"}}\n]}"#
    )
    #expect(more != PartnersTests.partners)
    try PartnersTests.write(more, to: sandbox.root + "/partners.json")
    let stale = try DoctorTests.doctor(sandbox, options + ["--nginx-config", folder])
    #expect(stale.status == 1)
    #expect(
      DoctorTests.line(stale, "web server").contains(
        "out of step with the partners file: run jobdrop serve-config nginx"), "\(stale.stdout)")
  }

  @Test func aMissingInboxFailsSayingHowToFixIt() throws {
    let sandbox = try Sandbox(orders: 10)
    try FileManager.default.removeItem(atPath: sandbox.inbox)
    let result = try DoctorTests.doctor(sandbox)
    #expect(result.status == 1)
    #expect(
      DoctorTests.line(result, "inbox")
        == "fail  inbox        \(sandbox.inbox) does not exist: create it (mkdir -p \(sandbox.inbox)) or set --inbox"
    )
  }

  @Test func aWorldReadablePartnersFileFails() throws {
    let sandbox = try Sandbox(orders: 10)
    let options = try PartnersTests.serve(sandbox, mode: 0o644)
    let result = try DoctorTests.doctor(sandbox, options)
    #expect(result.status == 1)
    #expect(
      DoctorTests.line(result, "partners").contains("is mode 0644, readable by every user"),
      "\(result.stdout)")
  }

  @Test func aSourceWithoutTheCatalogsTablesFails() throws {
    let sandbox = try Sandbox(orders: 10)
    let empty = sandbox.root + "/empty.sqlite"
    #expect(try Spawn.run("/usr/bin/sqlite3", [empty, "CREATE TABLE t (x)"]).status == 0)
    let result = try DoctorTests.doctor(sandbox, ["--source", "sqlite:" + empty])
    #expect(result.status == 1)
    #expect(DoctorTests.line(result, "source").contains("no such table: orders"), "\(result.stdout)")
  }

  @Test func aSpoolNewerThanThisJobdropFails() throws {
    let sandbox = try Sandbox(orders: 10)
    try sandbox.process()
    try "3\n".write(toFile: sandbox.spool + "/VERSION", atomically: true, encoding: .utf8)
    let result = try DoctorTests.doctor(sandbox)
    #expect(result.status == 1)
    #expect(DoctorTests.line(result, "spool").contains("spool format 3 is newer than this jobdrop (2)"))
  }

  @Test func aWebhookNobodyListensForIsAWarningNotAFailure() throws {
    let sandbox = try Sandbox(orders: 10)
    let port = SFTPTests.SSHServer.freePort()
    let secret = sandbox.root + "/secret"
    try "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n".write(toFile: secret, atomically: true, encoding: .utf8)
    chmod(secret, 0o600)
    let result = try DoctorTests.doctor(
      sandbox, ["--webhook-url", "http://127.0.0.1:\(port)/hook", "--webhook-secret-file", secret])
    #expect(result.status == 0, "a warning does not fail: \(result.stdout)")
    #expect(DoctorTests.line(result, "webhooks").hasPrefix("warn"), "\(result.stdout)")
    #expect(DoctorTests.line(result, "webhooks").contains("127.0.0.1:\(port) (Connection refused)"))
  }

  /// A delivery target reached as the first delivery would reach it: the host key, the login, the
  /// folder, the key file's mode and the OpenPGP key, each fault named.
  @Test func aDeliveryTargetIsReachedWithItsKeysAndEachFaultNamed() throws {
    let sandbox = try Sandbox(orders: 10)
    let (server, sshFolder, received) = try DeliveryTests.receivingServer(sandbox)
    defer { server.stop() }
    let hostKey = try server.hostKey()
    let otherKey = try SFTPTests.SSHServer.otherHostKey(in: sandbox.root)
    chmod(sshFolder + "/client_key", 0o600)
    func doctor(folder: String = received, hostKey: String = hostKey, extra: [String] = []) throws -> String {
      let result = try DoctorTests.doctor(
        sandbox,
        [
          "--deliver", "sftp://\(NSUserName())@127.0.0.1:\(server.port)\(folder)", "--deliver-host-key",
          hostKey,
          "--deliver-private-key-file", sshFolder + "/client_key",
        ] + extra)
      let line = DoctorTests.line(result, "deliveries")
      #expect(result.status == (line.hasPrefix("fail") ? 1 : 0), "\(result.stdout)")
      return line
    }
    let good = try doctor()
    #expect(good.hasPrefix("ok "), "\(good)")
    let wrongKey = try doctor(hostKey: otherKey)
    #expect(wrongKey.hasPrefix("fail"), "\(wrongKey)")
    #expect(wrongKey.contains("the server's host key does not match host_key"), "\(wrongKey)")
    // Debian's libssh2 cannot check an RSA host key of a current OpenSSH: the fix is named.
    let rsa = try doctor(hostKey: try server.hostKey("rsa"))
    #expect(rsa.hasPrefix("fail") && rsa.contains("pin the server's Ed25519 or ECDSA key"), "\(rsa)")
    let noFolder = try doctor(folder: received + "/missing")
    #expect(noFolder.contains("the folder \(received)/missing is not there"), "\(noFolder)")
    try "not a key\n".write(toFile: sandbox.root + "/partner.asc", atomically: true, encoding: .utf8)
    let badKey = try doctor(extra: ["--deliver-encrypt-to", sandbox.root + "/partner.asc"])
    #expect(badKey.contains("cannot encrypt to encrypt_to \(sandbox.root)/partner.asc"), "\(badKey)")
    let noPassphrase = try doctor(extra: [
      "--deliver-private-key-passphrase-file", sandbox.root + "/missing-passphrase",
    ])
    #expect(
      noPassphrase.hasPrefix("fail")
        && noPassphrase.contains(
          "private_key_passphrase_file \(sandbox.root)/missing-passphrase cannot be read"),
      "\(noPassphrase)")
    chmod(sshFolder + "/client_key", 0o644)
    let open = try doctor()
    #expect(open.hasPrefix("warn") && open.contains("can be read by others: chmod 600"), "\(open)")
    #expect(sandbox.list("received").isEmpty, "the doctor writes nothing there")
  }
}
