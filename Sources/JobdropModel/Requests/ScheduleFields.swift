import JobdropSystem

/// Reading a standing request's `schedule` and `window` (both dialects, at the same place as the rest of
/// the request), with errors that name the key and what it takes.
enum ScheduleFields {
  /// `schedule`: `{"cron": …}` or `{"every": …}`, with an optional `timezone`.
  static func schedule(_ object: JSONValue) throws(RequestError) -> ScheduleSpec? {
    guard let value = object["schedule"], value != .null else { return nil }
    guard case .object(let members) = value else {
      throw RequestError(
        #"schedule: expected {"cron": "m h dom mon dow"} or {"every": "15m"}, found \#(value.kind)"#)
    }
    if let other = members.first(where: { !["cron", "every", "timezone"].contains($0.key) }) {
      throw RequestError("schedule.\(other.key.prefix(40)): unknown key (keys: cron, every, timezone)")
    }
    let cron = try RequestFields.string(value, "cron", path: "schedule.cron")
    let every = try RequestFields.string(value, "every", path: "schedule.every")
    var timezone = TimeZoneRules.utc
    if let name = try RequestFields.string(value, "timezone", path: "schedule.timezone") {
      guard let rules = TimeZoneRules(named: name) else {
        throw RequestError("schedule.timezone: unknown time zone '\(name.prefix(64))'")
      }
      timezone = rules
    }
    switch (cron, every) {
    case (let cron?, nil):
      let expression = try CronExpression(cron)
      let spec = ScheduleSpec(kind: .cron(expression), timezone: timezone)
      // Eight years hold every day an expression can name: none in them is none ever.
      let reference = Timestamp(seconds: 946_684_800)
      guard spec.next(after: reference, created: reference) != nil else {
        throw RequestError("schedule.cron: '\(cron)' never runs (no day matches it)")
      }
      return spec
    case (nil, let every?):
      guard let span = DurationText.milliseconds(every, in: ScheduleSpec.everyRange) else {
        throw RequestError(
          "schedule.every: '\(every.prefix(40))' is not a duration from 1s to 366d (e.g. 15m, 1h, 1d)")
      }
      return ScheduleSpec(kind: .every(milliseconds: span, text: every), timezone: timezone)
    case (nil, nil):
      throw RequestError(#"schedule: expected "cron" or "every""#)
    case (_?, _?):
      throw RequestError(#"schedule: "cron" or "every", not both"#)
    }
  }

  /// `window`: `field`, `since` (`"last"`), `start`, `lag`. Only a request with a schedule takes one.
  static func window(_ object: JSONValue, scheduled: Bool) throws(RequestError) -> WindowSpec? {
    guard let value = object["window"], value != .null else { return nil }
    guard scheduled else {
      throw RequestError("window: only a standing request (one with a schedule) takes a window")
    }
    guard case .object(let members) = value else {
      throw RequestError(#"window: expected {"field": …, "since": "last"}, found \#(value.kind)"#)
    }
    if let other = members.first(where: { !["field", "since", "start", "lag"].contains($0.key) }) {
      throw RequestError("window.\(other.key.prefix(40)): unknown key (keys: field, since, start, lag)")
    }
    guard let field = try RequestFields.string(value, "field", path: "window.field", required: true) else {
      throw RequestError("window.field: missing")
    }
    if let since = try RequestFields.string(value, "since", path: "window.since"), since != "last" {
      throw RequestError(#"window.since: '\#(since.prefix(40))' is not supported (since: "last")"#)
    }
    var start: Timestamp?
    if let text = try RequestFields.string(value, "start", path: "window.start") {
      guard let parsed = Timestamp.parse(text) else {
        throw RequestError("window.start: '\(text.prefix(40))' is not a date or an RFC 3339 time")
      }
      start = parsed.time
    }
    var lag = WindowSpec.defaultLag
    if let text = try RequestFields.string(value, "lag", path: "window.lag") {
      guard let milliseconds = DurationText.milliseconds(text, in: WindowSpec.lagRange) else {
        throw RequestError(
          "window.lag: '\(text.prefix(40))' is not a duration from 0 to 24h (e.g. 0, 30s, 5m)")
      }
      lag = (milliseconds, text)
    }
    return WindowSpec(field: field, start: start, lagMilliseconds: lag.milliseconds, lagText: lag.text)
  }

  /// The timestamp fields a window may follow: those the job type lets a filter bound from both sides.
  static func windowFields(of jobType: JobType) -> [String] {
    jobType.fields.filter {
      $0.type == .timestamp && $0.operators.contains(.ge) && $0.operators.contains(.lt)
    }
    .map(\.name)
  }

  /// Checks a window's field against the job type.
  static func validate(_ window: WindowSpec, of jobType: JobType) throws(RequestError) {
    let fields = windowFields(of: jobType)
    guard fields.contains(window.field) else {
      throw RequestError(
        "window.field: '\(window.field.prefix(64))' is not a timestamp field of \(jobType.name) (timestamp fields: \(fields.isEmpty ? "none" : fields.joined(separator: ", ")))"
      )
    }
  }
}
