import Foundation
import Testing

@testable import JobdropDemo
@testable import JobdropModel
@testable import JobdropSystem

/// Cron next times: a table of the grammar's corner cases and of daylight-saving days, then thousands of
/// random expressions against croniter (PyPI), an implementation written by others.
@Suite(.timeLimit(.minutes(10))) struct CronExpressionTests {
  static func zone(_ name: String) throws -> TimeZoneRules { try #require(TimeZoneRules(named: name)) }

  /// The next time of `cron` in `zone` after the UTC time `after` (RFC 3339), as RFC 3339 UTC.
  static func next(_ cron: String, _ zone: String = "UTC", after: String) throws -> String? {
    let spec = ScheduleSpec(
      kind: .cron(try CronExpression(cron)), timezone: try CronExpressionTests.zone(zone))
    let start = try #require(Timestamp.parse(after)?.time)
    return spec.next(after: start, created: start)?.rfc3339
  }

  @Test(arguments: [
    // Lists, ranges, steps, names.
    ("*/15 * * * *", "UTC", "2024-01-01T00:07:00Z", "2024-01-01T00:15:00Z"),
    ("5,10-12 * * * *", "UTC", "2024-01-01T00:10:30Z", "2024-01-01T00:11:00Z"),
    ("0 1-10/3 * * *", "UTC", "2024-01-01T04:00:00Z", "2024-01-01T07:00:00Z"),
    ("0 0 * jan,JUL mon", "UTC", "2024-02-01T00:00:00Z", "2024-07-01T00:00:00Z"),
    ("0 9 * * mon-fri", "UTC", "2024-01-05T10:00:00Z", "2024-01-08T09:00:00Z"),
    ("0 0 * * 7", "UTC", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),  // 7 is Sunday
    ("0 0 * * 0", "UTC", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),
    // Day of month and day of week: either when both are restricted, both when one starts with *.
    ("0 0 13 * fri", "UTC", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
    ("0 0 */2 * fri", "UTC", "2024-01-01T12:00:00Z", "2024-01-05T00:00:00Z"),
    ("0 0 13 * *", "UTC", "2024-01-01T00:00:00Z", "2024-01-13T00:00:00Z"),
    // February 29 and months without a 31st.
    ("0 0 29 2 *", "UTC", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
    ("0 0 31 * *", "UTC", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"),
    // Daylight saving, Berlin: 02:30 does not exist on 2024-03-31 (runs at 03:00 CEST = 01:00Z); on
    // 2024-10-27 02:30 exists twice (runs once, at the first, 00:30Z).
    ("30 2 * * *", "Europe/Berlin", "2024-03-30T12:00:00Z", "2024-03-31T01:00:00Z"),
    ("30 2 * * *", "Europe/Berlin", "2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"),
    ("30 2 * * *", "Europe/Berlin", "2024-10-26T12:00:00Z", "2024-10-27T00:30:00Z"),
    ("30 2 * * *", "Europe/Berlin", "2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"),
    ("*/30 2 * * *", "Europe/Berlin", "2024-10-27T00:45:00Z", "2024-10-28T01:00:00Z"),
    // New York: 02:00–02:59 skipped on 2024-03-10, 01:00–01:59 twice on 2024-11-03.
    ("15 2 * * *", "America/New_York", "2024-03-09T12:00:00Z", "2024-03-10T07:00:00Z"),
    ("30 1 * * *", "America/New_York", "2024-11-02T12:00:00Z", "2024-11-03T05:30:00Z"),
    ("30 1 * * *", "America/New_York", "2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"),
    // Past the zone file's table (2037): the POSIX rule at its end.
    ("30 2 * * *", "Europe/Berlin", "2040-03-24T12:00:00Z", "2040-03-25T01:00:00Z"),
    ("0 12 1 7 *", "America/New_York", "2045-01-01T00:00:00Z", "2045-07-01T16:00:00Z"),
  ])
  func nextTimes(cron: String, zone: String, after: String, expected: String) throws {
    #expect(try CronExpressionTests.next(cron, zone, after: after) == expected, "\(cron) in \(zone)")
  }

  @Test func anExpressionWithNoTimeNeverRuns() throws {
    #expect(try CronExpressionTests.next("30 2 30 2 *", after: "2024-01-01T00:00:00Z") == nil)
    #expect(try CronExpressionTests.next("0 0 31 4,6,9,11 *", after: "2024-01-01T00:00:00Z") == nil)
  }

  @Test(arguments: [
    ("day * * * *", "schedule.cron: 'day' is not a minute (field 1: 0-59, *, lists, ranges, steps)"),
    ("60 * * * *", "schedule.cron: '60' is not a minute (field 1: 0-59, *, lists, ranges, steps)"),
    ("0 24 * * *", "schedule.cron: '24' is not a hour (field 2: 0-23, *, lists, ranges, steps)"),
    ("0 0 0 * *", "schedule.cron: '0' is not a day of the month (field 3: 1-31, *, lists, ranges, steps)"),
    (
      "0 0 * foo *", "schedule.cron: 'foo' is not a month (field 4: 1-12 or jan-dec, *, lists, ranges, steps)"
    ),
    (
      "0 0 * * 8",
      "schedule.cron: '8' is not a day of the week (field 5: 0-7 or sun-sat, *, lists, ranges, steps)"
    ),
    ("5-1 * * * *", "schedule.cron: '5-1' is not a minute (field 1: 0-59, *, lists, ranges, steps)"),
    ("*/0 * * * *", "schedule.cron: '*/0' is not a minute (field 1: 0-59, *, lists, ranges, steps)"),
    ("5/10 * * * *", "schedule.cron: '5/10' is not a minute (field 1: 0-59, *, lists, ranges, steps)"),
    ("1,,2 * * * *", "schedule.cron: '1,,2' is not a minute (field 1: 0-59, *, lists, ranges, steps)"),
    ("* * * *", "schedule.cron: expected five fields (minute hour day-of-month month day-of-week), found 4"),
    ("@daily", "schedule.cron: expected five fields (minute hour day-of-month month day-of-week), found 1"),
  ])
  func badExpressionsAreRefusedNamingTheField(cron: String, message: String) {
    #expect(throws: RequestError(message)) { try CronExpression(cron) }
  }

  @Test func unknownZonesAndPathsAreNoZones() {
    #expect(TimeZoneRules(named: "Europe/Berln") == nil)
    #expect(TimeZoneRules(named: "../../etc/passwd") == nil)
    #expect(TimeZoneRules(named: "Europe/../../../etc/passwd") == nil)
    #expect(TimeZoneRules(named: "") == nil)
    #expect(TimeZoneRules(named: "Asia/Kolkata")?.offset(at: 1_700_000_000) == 19_800)
  }

  /// 3,000 random expressions (lists, ranges, steps, names, both day fields) in three zones, each from a
  /// random time between 2000 and 2036, against croniter.
  @Test func randomExpressionsAgreeWithCroniter() throws {
    var generator = SplitMix64(seed: 20_261_206)  // the demo data's seeded generator
    func field(_ range: ClosedRange<Int>, names: [String] = []) -> String {
      func value() -> String {
        let number = Int.random(in: range, using: &generator)
        if !names.isEmpty && Bool.random(using: &generator) { return names[number - range.lowerBound] }
        return "\(number)"
      }
      switch Int.random(in: 0..<7, using: &generator) {
      case 0: return "*"
      case 1: return "*/\(Int.random(in: 1...(range.upperBound / 2 + 1), using: &generator))"
      case 2:
        // (A range of one value, `5-5`, is left out: croniter 7 reads it wrongly.)
        let a = Int.random(in: range.lowerBound...(range.upperBound - 1), using: &generator)
        let b = Int.random(in: (a + 1)...range.upperBound, using: &generator)
        return "\(a)-\(b)"
      case 3:
        let a = Int.random(in: range.lowerBound...(range.upperBound - 1), using: &generator)
        let b = Int.random(in: (a + 1)...range.upperBound, using: &generator)
        return "\(a)-\(b)/\(Int.random(in: 1...5, using: &generator))"
      case 4:
        return (0..<Int.random(in: 2...4, using: &generator)).map { _ in value() }.joined(separator: ",")
      default: return value()
      }
    }
    let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    let weekdays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    let zones = ["UTC", "Europe/Berlin", "America/New_York"]
    var cases: [(cron: String, zone: String, after: Int64)] = []
    while cases.count < 3_000 {
      let cron = [
        field(0...59), field(0...23), field(1...31), field(1...12, names: months),
        field(0...6, names: weekdays),
      ].joined(separator: " ")
      let after = Int64.random(in: 946_684_800...2_082_758_400, using: &generator)
      cases.append((cron, zones[cases.count % zones.count], after))
    }
    let input = cases.map { "\($0.cron)|\($0.zone)|\($0.after)" }.joined(separator: "\n") + "\n"
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Schedules/cron_reference.py").path
    let output = try CronExpressionTests.python(script, input: input)
    let theirs = output.split(separator: "\n").map(String.init)
    try #require(theirs.count == cases.count)
    var differing: [String] = []
    for (index, item) in cases.enumerated() {
      let spec = ScheduleSpec(
        kind: .cron(try CronExpression(item.cron)), timezone: try CronExpressionTests.zone(item.zone))
      let start = Timestamp(seconds: item.after)
      let ours = spec.next(after: start, created: start).map { "\($0.seconds)" } ?? "none"
      if ours != theirs[index] {
        differing.append("\(item.cron) in \(item.zone) after \(item.after): \(ours) vs \(theirs[index])")
      }
    }
    #expect(differing.isEmpty, "\(differing.count) differ: \(differing.prefix(10).joined(separator: "; "))")
  }

  static func python(_ script: String, input: String) throws -> String {
    signal(SIGPIPE, SIG_IGN)  // a reference that dies early is an error below, not a killed test run
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script]
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    try process.run()
    let writer = Thread {
      try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
      try? stdin.fileHandleForWriting.close()
    }
    writer.start()
    let data = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(
      process.terminationStatus == 0, "the reference failed (is croniter installed? make test installs it)")
    return String(decoding: data, as: UTF8.self)
  }
}
