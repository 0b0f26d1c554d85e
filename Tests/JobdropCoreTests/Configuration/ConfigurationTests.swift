import Testing

@testable import JobdropDaemon
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct ConfigurationTests {
  @Test(arguments: [
    ("7d", Int64(604_800_000)), ("36h", 129_600_000), ("90s", 90_000), ("15m", 900_000), ("500ms", 500),
    ("1d12h", 129_600_000),
  ])
  func parsesDurations(text: String, milliseconds: Int64) {
    #expect(DurationText.milliseconds(text) == milliseconds)
  }

  @Test(arguments: ["", "7", "d", "7x", "-1d", "0s", "99999999999999999999d"])
  func rejectsBadDurations(text: String) {
    #expect(DurationText.milliseconds(text) == nil)
  }

  @Test(arguments: [("0", Int64(0)), ("0s", 0), ("0ms", 0), ("0m0s", 0), ("250ms", 250), ("10m", 600_000)])
  func graceTakesZeroInAnyUnit(text: String, milliseconds: Int64) throws {
    var flags = Configuration.Flags()
    flags.grace = text
    #expect(try Configuration(flags: flags, environment: [:]).graceMilliseconds == milliseconds)
  }

  @Test(arguments: ["0s", "0"])
  func zeroIsNoTTL(text: String) {
    var flags = Configuration.Flags()
    flags.ttl = text
    #expect(throws: ConfigurationError.self) { try Configuration(flags: flags, environment: [:]) }
  }

  @Test func flagsBeatEnvironmentBeatsDefaults() throws {
    var flags = Configuration.Flags()
    flags.inbox = "/flag/inbox"
    let environment = [
      "JOBDROP_INBOX": "/env/inbox", "JOBDROP_OUTBOX": "/env/outbox", "JOBDROP_EMPTY_OK": "1",
    ]
    let configuration = try Configuration(flags: flags, environment: environment)
    #expect(configuration.inbox == "/flag/inbox")
    #expect(configuration.outbox == "/env/outbox")
    #expect(configuration.spool == "spool")
    #expect(configuration.source == .sqlite(path: "data/store.sqlite"))
    #expect(configuration.ttlSeconds == 604_800)
    #expect(configuration.emptyOK)
    #expect(!configuration.rawCSV)
  }

  @Test(arguments: [
    ("ttl", "forever", "--ttl: expected a duration from 1s to 36500d, such as 7d, 36h or 90s, got 'forever'"),
    (
      "ttl", "106751990000d",
      "--ttl: expected a duration from 1s to 36500d, such as 7d, 36h or 90s, got '106751990000d'"
    ),
    (
      "ttl", "99999999999999999999d",
      "--ttl: expected a duration from 1s to 36500d, such as 7d, 36h or 90s, got '99999999999999999999d'"
    ),
    (
      "settle", "9223372036854775807ms",
      "--settle: expected a duration from 1ms to 1h, such as 2s or 500ms, got '9223372036854775807ms'"
    ),
    (
      "settle", "9223372036854775s9223372036854775s",
      "--settle: expected a duration from 1ms to 1h, such as 2s or 500ms, got '9223372036854775s9223372036854775s'"
    ),
    ("workers", "0", "--workers: expected a number from 1 to 64, got '0'"),
    (
      "source", "mysql://x", "--source: expected sqlite:PATH or postgres://user@host:port/db, got 'mysql://x'"
    ),
    (
      "baseURL", "exports.example.com",
      "--base-url: expected an http:// or https:// URL, got 'exports.example.com'"
    ),
  ])
  func namesTheBadOption(key: String, value: String, message: String) {
    var flags = Configuration.Flags()
    switch key {
    case "ttl": flags.ttl = value
    case "settle": flags.settle = value
    case "workers": flags.workers = Int(value)
    case "source": flags.source = value
    default: flags.baseURL = value
    }
    #expect(throws: ConfigurationError(message)) { try Configuration(flags: flags, environment: [:]) }
  }
}
