import Foundation
import JobdropCrypto
import JobdropExport
import Testing

/// `jobdrop serve-config nginx` in front of real outboxes: a real nginx (with njs) on 127.0.0.1.
@Suite(.timeLimit(.minutes(10))) struct ServeConfigTests {
  /// What `path` holds, as text.
  static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

  static func mode(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? -1
  }

  @Test func theShippedNginxConfIsWhatTheGeneratorWrites() throws {
    let sandbox = try Sandbox(orders: 10)
    let out = sandbox.root + "/nginx-config"
    let result = try sandbox.run([
      "serve-config", "nginx", "--outbox", "/srv/jobdrop/outbox", "--listen", "8080", "--out", out,
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let shipped = ServeConfigTests.read(
      NginxTests.repository.appendingPathComponent("deploy/nginx.conf").path)
    #expect(!shipped.isEmpty && ServeConfigTests.read(out + "/jobdrop.conf") == shipped)
    #expect(ServeConfigTests.mode(out + "/jobdrop.conf") == 0o600)
  }

  @Test func eachPartnerReadsItsOwnJobsOnlyAndFileLinksNeedNoToken() throws {
    let sandbox = try Sandbox(orders: 800)
    let options = try PartnersTests.serve(sandbox)
    try PartnersTests.drop(sandbox, "acme", "mine.json", PartnersTests.paidOrders)
    try PartnersTests.drop(sandbox, "globex", "theirs.json", PartnersTests.paidOrders)
    try sandbox.process(options + ["--ttl", "3s"])
    let out = sandbox.root + "/nginx-config"
    let port = SFTPTests.SSHServer.freePort()
    let generated = try sandbox.run(
      ["serve-config", "nginx", "--outbox", sandbox.outbox, "--listen", "127.0.0.1:\(port)", "--out", out]
        + options)
    #expect(generated.status == 0, "\(generated.stderr)")
    #expect(
      ServeConfigTests.mode(out + "/jobdrop.conf") == 0o600
        && ServeConfigTests.mode(out + "/jobdrop.js") == 0o600)
    let nginx = try NginxTests.Nginx(
      include: "include \(out)/jobdrop.conf;", port: port, directory: sandbox.root)
    let acme = ["-H", "Authorization: Bearer \(PartnersTests.acmeToken)"]
    let mine = try #require(try PartnersTests.jobs(sandbox.outbox, "acme")["mine.json"])
    let theirs = try #require(try PartnersTests.jobs(sandbox.outbox, "globex")["theirs.json"])
    let mineID = mine["id"] as! String
    let theirsID = theirs["id"] as! String

    // No token, a wrong one, another partner's id as the user name: 401, Elastic Path's body.
    for arguments in [
      [], ["-H", "Authorization: Bearer wrong-\(PartnersTests.acmeToken)"],
      ["-u", "globex:\(PartnersTests.acmeToken)"],
      ["-H", "Authorization: Bearer \(PartnersTests.acmeToken.uppercased())"],
    ] {
      let denied = try nginx.get("/v2/jobs", arguments)
      #expect(denied.status == 401, "\(arguments)")
      #expect(denied.headers["www-authenticate"]?.contains("realm=\"jobdrop\"") == true)
      let errors =
        (try? JSONSerialization.jsonObject(with: denied.body) as? [String: Any])?["errors"]
        as? [[String: Any]]
      #expect(errors?.first?["status"] as? Int == 401 && errors?.first?["title"] as? String == "Unauthorized")
    }
    #expect(try nginx.get("/jobs/\(mineID).json").status == 401)

    // With acme's token (Bearer, or basic auth as a browser sends it): acme's site, byte for byte.
    let index = try nginx.get("/v2/jobs", acme)
    #expect(index.status == 200)
    #expect(index.body == (try Data(contentsOf: URL(fileURLWithPath: sandbox.outbox + "/acme/index.json"))))
    let basic = try nginx.get("/index.json", ["-u", "acme:\(PartnersTests.acmeToken)"])
    #expect(basic.status == 200 && basic.body == index.body)
    #expect(try nginx.get("/v2/jobs/\(mineID)", acme).status == 200)
    #expect(try nginx.get("/requests/mine.json", acme).status == 200)
    // Another partner's job is exactly as missing as a job that never was.
    let other = try nginx.get("/v2/jobs/\(theirsID)", acme)
    let missing = try nginx.get("/v2/jobs/00000000-0000-4000-8000-000000000000", acme)
    #expect(other.status == 404 && missing.status == 404 && other.body == missing.body)
    #expect(try nginx.get("/jobs/\(theirsID).json", acme).status == 404)
    #expect(try nginx.get("/requests/theirs.json", acme).status == 404)
    #expect(
      try nginx.get("/v2/jobs/\(theirsID)", ["-u", "globex:\(PartnersTests.globexToken)"]).status == 200)

    // The file link works for whoever holds it, without a token.
    let href = (mine["link"] as! [String: Any])["href"] as! String
    let file = try nginx.get("/" + href)
    #expect(file.status == 200)
    #expect(file.body == (try Data(contentsOf: URL(fileURLWithPath: sandbox.outbox + "/acme/" + href))))
    #expect(SHA256Digest.hex(of: Array(file.body)) == (mine["meta"] as? [String: Any])?["sha256"] as? String)
    #expect(file.headers["content-type"] == "text/csv; charset=utf-8")

    // Read-only: 405 with Allow.
    let post = try nginx.get("/v2/jobs", method: "POST", acme)
    #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")

    // The Elastic Path SDK's sign-in: its client_id is the partner's token, and it gets it back.
    let signIn = try nginx.get(
      "/oauth/access_token", method: "POST",
      ["--data", "grant_type=implicit&client_id=\(PartnersTests.acmeToken)"])
    #expect(signIn.status == 200)
    let token = try JSONSerialization.jsonObject(with: signIn.body) as? [String: Any]
    #expect(token?["access_token"] as? String == PartnersTests.acmeToken)
    #expect(token?["token_type"] as? String == "Bearer")
    #expect((token?["expires"] as? Int ?? 0) > Int(Date().timeIntervalSince1970))
    // The SDK then lists jobs with the token it got back.
    let listed = try nginx.get(
      "/v2/jobs",
      [
        "-H", "Authorization: Bearer \(token?["access_token"] as? String ?? "")", "-H",
        "X-MOLTIN-SDK-LANGUAGE: JS",
      ])
    #expect(listed.status == 200 && listed.body == index.body)
    // With a client secret the SDK signs in with client_credentials: the same answer.
    let credentials = try nginx.get(
      "/oauth/access_token", method: "POST",
      ["--data", "grant_type=client_credentials&client_id=\(PartnersTests.acmeToken)&client_secret=x"])
    #expect(credentials.status == 200)
    let refused = try nginx.get(
      "/oauth/access_token", method: "POST", ["--data", "grant_type=implicit&client_id=nope"])
    #expect(refused.status == 401)

    // Once the job expires, the link stops working.
    let created = ISO8601DateFormatter().date(
      from: String(((mine["timestamps"] as! [String: Any])["created_at"] as! String).prefix(19)) + "Z")!
    // The TTL has to pass (a wait for the clock): `created` is cut to the second, so a second more.
    Thread.sleep(until: created.addingTimeInterval(4.2))
    try sandbox.process(options + ["--ttl", "3s"])
    #expect(try nginx.get("/" + href).status == 404)
    #expect(try nginx.get("/v2/jobs/\(mineID)", acme).status == 404)
  }

  /// schemathesis (PyPI) with the Exporter Service OpenAPI document, against the partners' configuration
  /// with acme's token. Two deliberate differences from that document are left out of the second pass,
  /// both required by PRODUCT.md: requests without a token get 401 (the document declares bearer auth
  /// but no 401; the `ignored_auth` check does verify that they are refused), and the site is read-only,
  /// so a 405 says `Allow: GET, HEAD` although the document lists POST (jobs are created by a drop).
  @Test func schemathesisFindsNothingWithAPartnersToken() throws {
    // A copy of ../shared/specs/ep-exporter.openapi.yaml (Elastic Path's published document), so that a
    // clone tests on its own.
    let spec = NginxTests.repository.appendingPathComponent("Tests/Specs/ep-exporter.openapi.yaml").path
    try #require(FileManager.default.fileExists(atPath: spec))
    let sandbox = try Sandbox(orders: 800)
    let options = try PartnersTests.serve(sandbox)
    for index in 0..<3 { try PartnersTests.drop(sandbox, "acme", "r\(index).json", PartnersTests.paidOrders) }
    try PartnersTests.drop(sandbox, "acme", "broken.json", "{")
    try sandbox.process(options)
    let out = sandbox.root + "/nginx-config"
    let port = SFTPTests.SSHServer.freePort()
    #expect(
      try sandbox.run(
        ["serve-config", "nginx", "--outbox", sandbox.outbox, "--listen", "127.0.0.1:\(port)", "--out", out]
          + options
      ).status == 0)
    let nginx = try NginxTests.Nginx(
      include: "include \(out)/jobdrop.conf;", port: port, directory: sandbox.root)
    let common = [
      "python3", "-m", "schemathesis.cli", "run", spec, "--url", "http://127.0.0.1:\(nginx.port)",
      "-H", "Authorization: Bearer \(PartnersTests.acmeToken)", "--include-method", "GET", "-c", "all",
      "--seed", "1", "--no-color",
    ]
    let passes = [
      ["--phases", "examples,fuzzing,stateful", "-n", "50"],
      ["--phases", "coverage", "--exclude-checks", "status_code_conformance,allow_header_conformance"],
    ]
    for pass in passes {
      let result = try Spawn.run("/usr/bin/env", common + pass, directory: sandbox.root)
      #expect(result.status == 0, "\(pass): \(result.stdout.suffix(3000))\(result.stderr.suffix(1000))")
      #expect(result.stdout.contains("generated") && !result.stdout.contains(" 0 generated"))
    }
  }
}
