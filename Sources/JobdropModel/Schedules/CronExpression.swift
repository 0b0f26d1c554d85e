import JobdropSystem

/// A five-field cron expression (`minute hour day-of-month month day-of-week`) with Vixie cron's meaning:
/// numbers, `*`, lists, ranges and steps (`*/15`, `1-30/2`), month and weekday names (`jan`, `mon-fri`),
/// `0` and `7` both Sunday; when both day fields are restricted a day matching either runs, when one of
/// them starts with `*` a day must match both.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
  /// The expression as written.
  public let text: String
  let minutes: [Bool]  // 0...59
  let hours: [Bool]  // 0...23
  let days: [Bool]  // 1...31 (index 0 unused)
  let months: [Bool]  // 1...12 (index 0 unused)
  let weekdays: [Bool]  // 0...6, Sunday 0
  /// Whether the day-of-month or the day-of-week field starts with `*` (Vixie's DOM_STAR / DOW_STAR).
  let dayStar: Bool
  let weekdayStar: Bool

  public var description: String { text }

  /// One field's name, position and what it takes, for error messages.
  struct Field {
    let name: String
    let position: Int
    let range: ClosedRange<Int>
    let names: [String]
    let allowed: String

    static let all = [
      Field(name: "minute", position: 1, range: 0...59, names: [], allowed: "0-59"),
      Field(name: "hour", position: 2, range: 0...23, names: [], allowed: "0-23"),
      Field(name: "day of the month", position: 3, range: 1...31, names: [], allowed: "1-31"),
      Field(
        name: "month", position: 4, range: 1...12,
        names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        allowed: "1-12 or jan-dec"),
      Field(
        name: "day of the week", position: 5, range: 0...7,
        names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"], allowed: "0-7 or sun-sat"),
    ]
  }

  /// Parses `text`; the error names the field, its position and what it takes.
  public init(_ text: String) throws(RequestError) {
    self.text = text
    let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    guard parts.count == 5 else {
      throw RequestError(
        "schedule.cron: expected five fields (minute hour day-of-month month day-of-week), found \(parts.count)"
      )
    }
    var sets: [[Bool]] = []
    for (part, field) in zip(parts, Field.all) {
      sets.append(try CronExpression.parse(part, as: field))
    }
    minutes = sets[0]
    hours = sets[1]
    days = sets[2]
    months = sets[3]
    var weekdays = Array(sets[4][0...6])
    if sets[4][7] { weekdays[0] = true }
    self.weekdays = weekdays
    dayStar = parts[2].hasPrefix("*")
    weekdayStar = parts[4].hasPrefix("*")
  }

  /// One field into the values it matches (indexed by value).
  private static func parse(_ part: String, as field: Field) throws(RequestError) -> [Bool] {
    func refuse(_ what: String) -> RequestError {
      RequestError(
        "schedule.cron: '\(what.prefix(40))' is not a \(field.name) (field \(field.position): \(field.allowed), *, lists, ranges, steps)"
      )
    }
    func value(_ text: Substring) throws(RequestError) -> Int {
      if let number = Int(text), field.range.contains(number), text.allSatisfy(\.isASCII) { return number }
      if let index = field.names.firstIndex(of: text.lowercased()) { return index + field.range.lowerBound }
      throw refuse(String(text))
    }
    var matched = [Bool](repeating: false, count: field.range.upperBound + 1)
    for item in part.split(separator: ",", omittingEmptySubsequences: false) {
      guard !item.isEmpty else { throw refuse(part) }
      let pieces = item.split(separator: "/", omittingEmptySubsequences: false)
      guard pieces.count <= 2 else { throw refuse(String(item)) }
      var step = 1
      if pieces.count == 2 {
        guard let number = Int(pieces[1]), number >= 1, number <= field.range.upperBound,
          pieces[1].allSatisfy(\.isASCII)
        else { throw refuse(String(item)) }
        step = number
      }
      let span = pieces[0]
      let low: Int
      let high: Int
      if span == "*" {
        (low, high) = (field.range.lowerBound, field.range.upperBound)
      } else if let dash = span.firstIndex(of: "-") {
        low = try value(span[..<dash])
        high = try value(span[span.index(after: dash)...])
        guard low <= high else { throw refuse(String(item)) }
      } else {
        // A single value with a step (`5/10`) is not Vixie cron: it is refused rather than guessed.
        guard pieces.count == 1 else { throw refuse(String(item)) }
        low = try value(span)
        high = low
      }
      for number in stride(from: low, through: high, by: step) { matched[number] = true }
    }
    return matched
  }

  /// Whether the expression's day fields take the day `day` of `month` that is weekday `weekday`.
  func matches(month: Int, day: Int, weekday: Int) -> Bool {
    guard months[month] else { return false }
    let byDay = days[day]
    let byWeekday = weekdays[weekday]
    return dayStar || weekdayStar ? byDay && byWeekday : byDay || byWeekday
  }

  /// The hours and minutes of a matching day, in order.
  var times: [(hour: Int, minute: Int)] {
    var times: [(Int, Int)] = []
    for hour in 0..<24 where hours[hour] {
      for minute in 0..<60 where minutes[minute] { times.append((hour, minute)) }
    }
    return times
  }
}
