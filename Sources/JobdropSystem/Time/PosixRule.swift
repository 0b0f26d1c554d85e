/// A POSIX TZ rule (the footer of a TZif file), e.g. `CET-1CEST,M3.5.0,M10.5.0/3`: a standard offset and,
/// optionally, a daylight-saving offset with the yearly rules that start and end it.
struct PosixRule: Sendable, Equatable {
  /// Seconds east of UTC.
  let standard: Int32
  let daylight: Int32?
  let start: Change?
  let end: Change?

  /// A yearly change: a day rule and the local time of day it happens at (seconds; may be negative or
  /// past 24 h, as RFC 8536 allows).
  struct Change: Sendable, Equatable {
    enum Day: Sendable, Equatable {
      /// `Mm.w.d`: weekday `d` (0 Sunday) of week `w` (5: the last) of month `m`.
      case monthWeek(month: Int, week: Int, weekday: Int)
      /// `Jn`: day `n` of the year, 1 to 365, February 29 never counted.
      case julian(Int)
      /// `n`: day `n` of the year, 0 to 365, February 29 counted.
      case zeroBased(Int)
    }
    let day: Day
    let time: Int64
  }

  init?(_ text: String) {
    var scanner = Scanner(Array(text.utf8))
    guard scanner.name(), let standardWest = scanner.offset() else { return nil }
    standard = Int32(-standardWest)
    guard !scanner.atEnd else {
      (daylight, start, end) = (nil, nil, nil)
      return
    }
    guard scanner.name() else { return nil }
    let daylightWest = scanner.peek == UInt8(ascii: ",") ? standardWest - 3600 : scanner.offset()
    guard let daylightWest else { return nil }
    daylight = Int32(-daylightWest)
    guard scanner.take(UInt8(ascii: ",")), let start = scanner.change(), scanner.take(UInt8(ascii: ",")),
      let end = scanner.change(), scanner.atEnd
    else { return nil }
    self.start = start
    self.end = end
  }

  /// The offset in force at `seconds` (since the epoch).
  func offset(at seconds: Int64) -> Int32 {
    guard let daylight, let start, let end else { return standard }
    let year = Timestamp.civil(fromDays: Timestamp(seconds: seconds).seconds.floorDivided(by: 86_400)).0
    // The changes of this year and of its neighbours, in UTC: starts are read on standard time, ends on
    // daylight time.
    var changes: [(instant: Int64, offset: Int32)] = []
    for y in [year - 1, year, year + 1] {
      changes.append((start.instant(in: y) - Int64(standard), daylight))
      changes.append((end.instant(in: y) - Int64(daylight), standard))
    }
    changes.sort { $0.instant < $1.instant }
    var current = changes[0].offset == daylight ? standard : daylight
    for change in changes where change.instant <= seconds { current = change.offset }
    return current
  }
}

extension PosixRule.Change {
  /// The change's local time in `year`, as seconds since the epoch read as a local clock.
  func instant(in year: Int64) -> Int64 {
    let days: Int64
    switch day {
    case .monthWeek(let month, let week, let weekday):
      let first = Timestamp.days(year: year, month: Int64(month), day: 1)
      // 1970-01-01 was a Thursday (weekday 4).
      let firstWeekday = (first + 4).floorModulo(7)
      var day = first + (Int64(weekday) - firstWeekday + 7) % 7 + Int64(week - 1) * 7
      let last = first + Timestamp.daysIn(month: Int64(month), year: year) - 1
      while day > last { day -= 7 }
      days = day
    case .julian(let n):
      let leap = Timestamp.daysIn(month: 2, year: year) == 29
      days = Timestamp.days(year: year, month: 1, day: 1) + Int64(n) - 1 + (leap && n >= 60 ? 1 : 0)
    case .zeroBased(let n):
      days = Timestamp.days(year: year, month: 1, day: 1) + Int64(n)
    }
    return days * 86_400 + time
  }
}

/// Reads a POSIX TZ string's parts in order.
private struct Scanner {
  let bytes: [UInt8]
  var position = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  var atEnd: Bool { position == bytes.count }
  var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

  mutating func take(_ byte: UInt8) -> Bool {
    guard peek == byte else { return false }
    position += 1
    return true
  }

  /// A zone abbreviation: letters, or anything within `<…>`.
  mutating func name() -> Bool {
    if take(UInt8(ascii: "<")) {
      guard let close = bytes[position...].firstIndex(of: UInt8(ascii: ">")) else { return false }
      position = close + 1
      return true
    }
    let start = position
    while let byte = peek, (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) { position += 1 }
    return position - start >= 3
  }

  /// `[+-]hh[:mm[:ss]]` in seconds.
  mutating func offset() -> Int64? {
    var sign: Int64 = 1
    if take(UInt8(ascii: "-")) { sign = -1 } else { _ = take(UInt8(ascii: "+")) }
    guard let hours = number() else { return nil }
    var total = hours * 3600
    if take(UInt8(ascii: ":")) {
      guard let minutes = number() else { return nil }
      total += minutes * 60
      if take(UInt8(ascii: ":")) {
        guard let seconds = number() else { return nil }
        total += seconds
      }
    }
    return sign * total
  }

  mutating func number() -> Int64? {
    let start = position
    var value: Int64 = 0
    while let byte = peek, (0x30...0x39).contains(byte), position - start < 4 {
      value = value * 10 + Int64(byte - 0x30)
      position += 1
    }
    return position > start ? value : nil
  }

  /// `Mm.w.d`, `Jn` or `n`, then an optional `/time` (default 02:00).
  mutating func change() -> PosixRule.Change? {
    let day: PosixRule.Change.Day
    if take(UInt8(ascii: "M")) {
      guard let month = number(), take(UInt8(ascii: ".")), let week = number(), take(UInt8(ascii: ".")),
        let weekday = number(), (1...12).contains(month), (1...5).contains(week), (0...6).contains(weekday)
      else { return nil }
      day = .monthWeek(month: Int(month), week: Int(week), weekday: Int(weekday))
    } else if take(UInt8(ascii: "J")) {
      guard let n = number(), (1...365).contains(n) else { return nil }
      day = .julian(Int(n))
    } else {
      guard let n = number(), (0...365).contains(n) else { return nil }
      day = .zeroBased(Int(n))
    }
    var time: Int64 = 7200
    if take(UInt8(ascii: "/")) {
      guard let value = offset() else { return nil }
      time = value
    }
    return PosixRule.Change(day: day, time: time)
  }
}

extension Int64 {
  package func floorDivided(by divisor: Int64) -> Int64 {
    self >= 0 ? self / divisor : (self - divisor + 1) / divisor
  }

  package func floorModulo(_ divisor: Int64) -> Int64 { ((self % divisor) + divisor) % divisor }
}
