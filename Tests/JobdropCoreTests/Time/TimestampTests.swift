import Foundation
import Testing

@testable import JobdropSystem

@Suite struct TimestampTests {
  @Test(arguments: [
    ("2018-09-01", "2018-09-01T00:00:00Z"),
    ("2018-09-01T10:20:30Z", "2018-09-01T10:20:30Z"),
    ("2018-09-01t10:20:30z", "2018-09-01T10:20:30Z"),
    ("2018-09-01T10:20:30.999Z", "2018-09-01T10:20:30Z"),
    ("2018-09-01T00:30:00+01:00", "2018-08-31T23:30:00Z"),
    ("2018-09-01T23:30:00-01:00", "2018-09-02T00:30:00Z"),
    ("2020-02-29", "2020-02-29T00:00:00Z"),
    ("1535760000000", "2018-09-01T00:00:00Z"),
    ("0", "1970-01-01T00:00:00Z"),
  ])
  func parsesAndFormatsInUTC(text: String, expected: String) throws {
    let parsed = try #require(Timestamp.parse(text))
    #expect(parsed.time.rfc3339 == expected)
  }

  @Test func codesWithMilliseconds() throws {
    let time = Timestamp(milliseconds: 1_535_760_000_042)
    let encoded = try JSONEncoder().encode([time])
    #expect(String(decoding: encoded, as: UTF8.self) == #"["2018-09-01T00:00:00.042Z"]"#)
    #expect(try JSONDecoder().decode([Timestamp].self, from: encoded) == [time])
  }

  @Test(arguments: [
    "", "2018-9-1", "2018-13-01", "2019-02-29", "2018-09-01T25:00:00Z", "2018-09-01T10:00", "yesterday", "-5",
  ])
  func rejects(text: String) {
    #expect(Timestamp.parse(text) == nil)
  }

  @Test func roundTripsEveryDayAcrossCenturies() {
    for day in stride(from: Int64(-719_000), through: 2_900_000, by: 367) {
      let time = Timestamp(seconds: day * 86_400)
      #expect(Timestamp.parse(time.rfc3339)?.time == time)
    }
  }
}
