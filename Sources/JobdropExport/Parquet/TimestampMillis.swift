/// Parses the catalog's timestamps into milliseconds since 1970 UTC: RFC 3339
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, also with a space for the `T` and with no zone (UTC), as
/// SQLite and PostgreSQL write them.
enum TimestampMillis {
  static func parse(_ bytes: UnsafeRawBufferPointer) -> Int64? {
    guard bytes.count >= 19 else { return nil }
    func digits(_ at: Int, _ count: Int) -> Int? {
      var value = 0
      for index in at..<(at + count) {
        let byte = bytes[index]
        guard byte >= 0x30 && byte <= 0x39 else { return nil }
        value = value * 10 + Int(byte - 0x30)
      }
      return value
    }
    guard let year = digits(0, 4), bytes[4] == 0x2D, let month = digits(5, 2), bytes[7] == 0x2D,
      let day = digits(8, 2), bytes[10] == 0x54 || bytes[10] == 0x20 || bytes[10] == 0x74,
      let hour = digits(11, 2), bytes[13] == 0x3A, let minute = digits(14, 2), bytes[16] == 0x3A,
      let second = digits(17, 2),
      (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
    else { return nil }
    var position = 19
    var millis = 0
    if position < bytes.count && bytes[position] == 0x2E {
      position += 1
      var scale = 100
      let start = position
      while position < bytes.count, bytes[position] >= 0x30 && bytes[position] <= 0x39 {
        millis += Int(bytes[position] - 0x30) * scale
        scale /= 10
        position += 1
      }
      guard position > start else { return nil }
    }
    var offsetMinutes = 0
    if position < bytes.count {
      switch bytes[position] {
      case 0x5A, 0x7A:  // Z
        position += 1
      case 0x2B, 0x2D:  // ±HH[:MM]
        let sign = bytes[position] == 0x2D ? -1 : 1
        guard position + 3 <= bytes.count, let hours = digits(position + 1, 2) else { return nil }
        position += 3
        var minutes = 0
        if position < bytes.count {
          if bytes[position] == 0x3A { position += 1 }
          guard position + 2 <= bytes.count, let value = digits(position, 2) else { return nil }
          minutes = value
          position += 2
        }
        offsetMinutes = sign * (hours * 60 + minutes)
      default:
        return nil
      }
    }
    guard position == bytes.count else { return nil }
    let days = daysFromCivil(year: year, month: month, day: day)
    let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - offsetMinutes * 60
    return Int64(seconds) * 1000 + Int64(millis)
  }

  /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
  static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }
}
