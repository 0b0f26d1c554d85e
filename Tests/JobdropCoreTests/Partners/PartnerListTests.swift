import Testing

@testable import JobdropModel

@Suite(.timeLimit(.minutes(10))) struct PartnerListTests {
  static let token = "t0123456789abcdefghijklmnopqrstuvwxyz"

  static func file(_ entries: String) -> [UInt8] { Array(#"{"partners": [\#(entries)]}"#.utf8) }

  @Test func readsScopesLimitsAndWhatEachPartnerMayRun() throws {
    let list = try PartnerList.parse(
      PartnerListTests.file(
        #"""
        {"id": "acme", "token": "\#(PartnerListTests.token)a", "scope": {"*": "in(currency,EUR,GBP)", "fee_rule": "eq(store,store-1)"}},
        {"id": "globex-2", "token": "\#(PartnerListTests.token)b", "max_pending": 20, "scope": {"order_export": "eq(store,store-3)"}}
        """#), file: "p.json", catalog: .builtIn)
    #expect(list.ids == ["acme", "globex-2"])
    let acme = try #require(list.partner(id: "acme"))
    #expect(acme.maximumPending == 100)
    #expect(acme.access(to: "order_export") == .enabled(scope: "in(currency,EUR,GBP)"))
    #expect(acme.access(to: "fee_rule") == .enabled(scope: "eq(store,store-1)"))
    // "*" names a field order_return lacks: that job type is not enabled, and the job says why.
    guard case .notEnabled(let message) = acme.access(to: "order_return") else {
      Issue.record("order_return should not be enabled for acme")
      return
    }
    #expect(message.hasPrefix("job type 'order_return' is not enabled for partner 'acme'"))
    #expect(message.contains("unknown field 'currency'"))
    let globex = try #require(list.partner(id: "globex-2"))
    #expect(globex.maximumPending == 20)
    #expect(
      globex.access(to: "fee_rule")
        == .notEnabled("job type 'fee_rule' is not enabled for partner 'globex-2'"))
    #expect("\(globex)" == "partner 'globex-2'")
  }

  @Test(arguments: [
    (#"{"id": "Acme", "token": "T", "scope": {}}"#, "partners[0].id: 'Acme' is not a partner id"),
    (#"{"id": "-acme", "token": "T", "scope": {}}"#, "partners[0].id: '-acme' is not a partner id"),
    (
      #"{"id": "acme", "token": "short", "scope": {}}"#,
      "partner 'acme': token: at least 32 characters, got 5"
    ),
    (
      #"{"id": "acme", "token": "0123456789 0123456789 0123456789 x", "scope": {}}"#,
      "partner 'acme': token: only letters, digits"
    ),
    (#"{"id": "acme", "token": "T"}"#, "partner 'acme': scope: missing"),
    (
      #"{"id": "acme", "token": "T", "scope": {"refunds": ""}}"#,
      "partner 'acme': scope 'refunds': unknown job type"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {"order_export": "eq(colour,red)"}}"#,
      "partner 'acme': scope 'order_export': filter: unknown field 'colour' at 4"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {"*": "eq(nothing,1)"}}"#,
      "partner 'acme': scope '*': applies to no job type"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "max_pending": 0}"#,
      "partner 'acme': max_pending: expected a whole number"
    ),
    (#"{"id": "acme", "token": "T", "scope": {}, "tokn": "x"}"#, "partner 'acme': unknown key 'tokn'"),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "webhook": {"url": "ftp://x", "secret": "s"}}"#,
      "partner 'acme': webhook.url: expected an http:// or https:// URL"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "webhook": {"url": "https://x.example/h", "secret": "hunter2"}}"#,
      "partner 'acme': webhook.secret: expected whsec_ followed by the key in base64"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "webhook": {"url": "https://x.example/h", "secret": "whsec_!!"}}"#,
      "partner 'acme': webhook.secret: expected whsec_"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "deliver": {"url": "ftp://x.example/in"}}"#,
      "partner 'acme': deliver.url: expected sftp://USER@HOST[:PORT]/FOLDER or s3://BUCKET[/PREFIX]"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "deliver": {"url": "sftp://in@x.example/in"}}"#,
      "partner 'acme': deliver.host_key: missing; an SFTP target needs the server's host key"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "deliver": {"url": "sftp://in:pw@x.example/in", "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "private_key_file": "/k"}}"#,
      "partner 'acme': deliver.url: expected sftp://USER@HOST[:PORT]/FOLDER (no password in it)"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "deliver": {"url": "sftp://in@x.example/in", "host_key": "AAAA", "private_key_file": "/k"}}"#,
      "partner 'acme': deliver.host_key: expected a key as in known_hosts"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "deliver": {"url": "sftp://in@x.example/in", "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}}"#,
      "partner 'acme': deliver.private_key_file: missing"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "deliver": {"url": "s3://lake", "passphrase": "x"}}"#,
      "partner 'acme': deliver: unknown key 'passphrase'"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}, "deliver": {"url": "s3://lake", "private_key_passphrase_file": "/p"}}"#,
      "partner 'acme': deliver: host_key, private_key_file and private_key_passphrase_file are for sftp:// targets"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}}, {"id": "acme", "token": "T2", "scope": {}}"#,
      "partner 'acme': the id is used twice"
    ),
    (
      #"{"id": "acme", "token": "T", "scope": {}}, {"id": "b", "token": "T", "scope": {}}"#,
      "partner 'b': token: the same token is given to another partner"
    ),
  ])
  func refusesAFileWithAMessageNamingTheFileThePartnerAndTheKey(entries: String, message: String) {
    let text = entries.replacingAll("\"T\"", with: "\"\(PartnerListTests.token)\"").replacingAll(
      "\"T2\"", with: "\"\(PartnerListTests.token)2\"")
    do {
      _ = try PartnerList.parse(PartnerListTests.file(text), file: "p.json", catalog: .builtIn)
      Issue.record("accepted: \(entries)")
    } catch {
      #expect(error.description.hasPrefix("p.json: " + message), "\(error)")
      #expect(!error.description.contains(PartnerListTests.token))
    }
  }
}

extension String {
  fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
    split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
  }
}
