import Foundation
import Testing

@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct TimestampTests {
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

  /// Past 9999 (which `parse` refuses, but arithmetic on a time can reach) the year keeps all its digits.
  @Test func writesAFiveDigitYearWhole() {
    let time = Timestamp(milliseconds: Timestamp.latest.milliseconds + 1)
    #expect(time.rfc3339 == "10000-01-01T00:00:00Z")
    #expect(time.rfc3339Milliseconds == "10000-01-01T00:00:00.000Z")
  }

  @Test func roundTripsEveryDayAcrossCenturies() {
    for day in stride(from: Int64(-719_000), through: 2_900_000, by: 367) {
      let time = Timestamp(seconds: day * 86_400)
      #expect(Timestamp.parse(time.rfc3339)?.time == time)
    }
  }

  /// Every text form against the C library's calendar (`gmtime_r`), from the earliest time jobdrop
  /// writes to the latest, before and after 1970, with every few milliseconds.
  @Test func formatsAsTheCLibraryDoes() {
    var instants = [
      Timestamp.earliest, Timestamp.latest, Timestamp(milliseconds: -1), Timestamp(milliseconds: 0),
    ]
    for time in stride(
      from: Timestamp.earliest.milliseconds, through: Timestamp.latest.milliseconds, by: 7_777_777_777)
    {
      instants.append(Timestamp(milliseconds: time))
    }
    for time in instants {
      var seconds = time_t(time.seconds)
      var parts = tm()
      gmtime_r(&seconds, &parts)
      let expected = String(
        format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
        parts.tm_hour, parts.tm_min, parts.tm_sec)
      let millis = String(format: "%03d", Int(time.milliseconds - time.seconds * 1000))
      #expect(time.rfc3339 == expected + "Z")
      #expect(time.rfc3339Milliseconds == expected + "." + millis + "Z")
      #expect(time.compact == expected.filter { $0 != "-" && $0 != ":" } + "Z")
    }
  }
}
