#if canImport(Glibc)
  import Glibc
#endif

/// A UTC instant with millisecond precision, and the one text form jobdrop writes: `YYYY-MM-DDTHH:MM:SSZ`.
///
/// Parses what filters accept: `YYYY-MM-DD` (a whole day), RFC 3339 timestamps with any offset, and epoch
/// milliseconds.
public struct Timestamp: Sendable, Hashable, Comparable, Codable {
  /// Milliseconds since 1970-01-01T00:00:00Z.
  public var milliseconds: Int64

  public init(milliseconds: Int64) { self.milliseconds = milliseconds }
  public init(seconds: Int64) { self.milliseconds = seconds * 1000 }

  /// The current time (in a debug build, moved by `JOBDROP_CLOCK_SKEW`, see ``skew``).
  public static func now() -> Timestamp {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Timestamp(milliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000 + skew)
  }

  #if DEBUG
    /// Milliseconds added to the wall clock: `JOBDROP_CLOCK_SKEW=2d` runs a debug build two days in the
    /// future, so the tests of expiry and dates run without sleeping. Release builds read no variable.
    static let skew: Int64 =
      getenv("JOBDROP_CLOCK_SKEW").flatMap {
        DurationText.milliseconds(String(cString: $0))
      } ?? 0
  #else
    static let skew: Int64 = 0
  #endif

  /// Whole seconds, rounded down.
  public var seconds: Int64 { milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000 }

  public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

  public func adding(seconds: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + seconds * 1000) }

  /// `YYYY-MM-DDTHH:MM:SSZ`, rounded down to the second: the form stored and published everywhere.
  public var rfc3339: String { formatted(milliseconds: false) }

  /// `YYYY-MM-DDTHH:MM:SS.mmmZ`: the form job documents and the spool use.
  public var rfc3339Milliseconds: String { formatted(milliseconds: true) }

  /// `YYYYMMDDTHHMMSSZ`, for file names.
  public var compact: String { rfc3339.filter { $0 != "-" && $0 != ":" } }

  /// The RFC 3339 text, with or without milliseconds. Every job's documents hold several, so a year
  /// of four digits (every time ``parse(_:)`` accepts) is written digit by digit into a fixed layout.
  private func formatted(milliseconds withMilliseconds: Bool) -> String {
    let total = seconds
    let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
    let secondOfDay = total - days * 86_400
    let (year, month, day) = Timestamp.civil(fromDays: days)
    let millis = milliseconds - total * 1000
    guard (0...9999).contains(year) else {
      let text =
        "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
        + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
      return text + (withMilliseconds ? "." + pad(millis, 3) : "") + "Z"
    }
    let count = withMilliseconds ? 24 : 20
    return String(unsafeUninitializedCapacity: count) { text in
      func put(_ value: Int64, _ width: Int, at start: Int) {
        var value = value
        for offset in stride(from: start + width - 1, through: start, by: -1) {
          text[offset] = UInt8(truncatingIfNeeded: 0x30 + value % 10)
          value /= 10
        }
      }
      put(year, 4, at: 0)
      text[4] = UInt8(ascii: "-")
      put(month, 2, at: 5)
      text[7] = UInt8(ascii: "-")
      put(day, 2, at: 8)
      text[10] = UInt8(ascii: "T")
      put(secondOfDay / 3600, 2, at: 11)
      text[13] = UInt8(ascii: ":")
      put(secondOfDay / 60 % 60, 2, at: 14)
      text[16] = UInt8(ascii: ":")
      put(secondOfDay % 60, 2, at: 17)
      if withMilliseconds {
        text[19] = UInt8(ascii: ".")
        put(millis, 3, at: 20)
      }
      text[count - 1] = UInt8(ascii: "Z")
      return count
    }
  }

  // MARK: Codable as RFC 3339 text with milliseconds

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard case .instant(let value)? = Timestamp.parse(text) else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "bad time \(text)"))
    }
    self = value
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(rfc3339Milliseconds)
  }

  // MARK: Parsing

  /// What a time value in a filter means: a whole UTC day, or an instant.
  public enum Parsed: Sendable, Equatable {
    /// `YYYY-MM-DD`: the day starting at this midnight.
    case day(Timestamp)
    /// An RFC 3339 timestamp or epoch milliseconds.
    case instant(Timestamp)

    /// The instant (for a day, its first).
    public var time: Timestamp {
      switch self {
      case .day(let time), .instant(let time): time
      }
    }
  }

  /// The earliest time jobdrop reads or writes: 0000-01-01T00:00:00Z.
  public static let earliest = Timestamp(milliseconds: -62_167_219_200_000)
  /// The latest time jobdrop reads or writes: 9999-12-31T23:59:59.999Z. Past it, RFC 3339 text (which
  /// the stores compare as text) would need five digits and sort before every real time.
  public static let latest = Timestamp(milliseconds: 253_402_300_799_999)

  /// Parses `YYYY-MM-DD`, an RFC 3339 timestamp, or epoch milliseconds; `nil` if it is none of them or
  /// lies outside ``earliest`` … ``latest``.
  public static func parse(_ text: String) -> Parsed? {
    guard let parsed = parseUnchecked(text), (earliest...latest).contains(parsed.time) else { return nil }
    return parsed
  }

  private static func parseUnchecked(_ text: String) -> Parsed? {
    let bytes = Array(text.utf8)
    if !bytes.isEmpty, bytes.count <= 15, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
      return Int64(text).map { .instant(Timestamp(milliseconds: $0)) }
    }
    var reader = Reader(bytes: bytes)
    guard let year = reader.number(4), reader.skip("-"), let month = reader.number(2), reader.skip("-"),
      let day = reader.number(2), (1...12).contains(month),
      (1...daysIn(month: month, year: year)).contains(day)
    else { return nil }
    let midnight = days(year: year, month: month, day: day) * 86_400
    if reader.atEnd { return .day(Timestamp(seconds: midnight)) }
    guard reader.skip("T") || reader.skip("t") || reader.skip(" "), let hour = reader.number(2),
      reader.skip(":"),
      let minute = reader.number(2), reader.skip(":"), let second = reader.number(2),
      hour < 24, minute < 60, second < 61
    else { return nil }
    var millis: Int64 = 0
    if reader.skip(".") {
      var digits = 0
      while let digit = reader.digit() {
        if digits < 3 { millis = millis * 10 + digit }
        digits += 1
      }
      if digits == 0 { return nil }
      for _ in digits..<max(digits, 3) { millis *= 10 }
    }
    var offset: Int64 = 0
    if reader.skip("Z") || reader.skip("z") {
    } else if let sign = reader.sign(), let offsetHours = reader.number(2), reader.skip(":"),
      let offsetMinutes = reader.number(2), offsetHours < 24, offsetMinutes < 60
    {
      offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
    } else {
      return nil
    }
    guard reader.atEnd else { return nil }
    let seconds = midnight + hour * 3600 + minute * 60 + min(second, 59) - offset
    return .instant(Timestamp(milliseconds: seconds * 1000 + millis))
  }

  /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
  package static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  /// The date of a day number since 1970-01-01.
  package static func civil(fromDays z: Int64) -> (Int64, Int64, Int64) {
    let z = z + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }

  package static func daysIn(month: Int64, year: Int64) -> Int64 {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  private struct Reader {
    let bytes: [UInt8]
    var index = 0
    var atEnd: Bool { index == bytes.count }

    mutating func skip(_ character: Character) -> Bool {
      guard index < bytes.count, bytes[index] == character.asciiValue else { return false }
      index += 1
      return true
    }

    mutating func digit() -> Int64? {
      guard index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 else { return nil }
      index += 1
      return Int64(bytes[index - 1] - 0x30)
    }

    mutating func number(_ width: Int) -> Int64? {
      var value: Int64 = 0
      for _ in 0..<width {
        guard let digit = digit() else { return nil }
        value = value * 10 + digit
      }
      return value
    }

    mutating func sign() -> Int64? {
      if skip("+") { return 1 }
      if skip("-") { return -1 }
      return nil
    }
  }
}

private func pad(_ value: Int64, _ width: Int) -> String {
  let digits = String(value)
  return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
