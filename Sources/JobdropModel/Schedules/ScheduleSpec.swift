import JobdropSystem

/// When a standing request runs: a cron expression in a time zone, or every fixed span counted from the
/// schedule's creation.
public struct ScheduleSpec: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    case cron(CronExpression)
    /// Every `milliseconds` (1 s to 366 d).
    case every(milliseconds: Int64, text: String)
  }

  public var kind: Kind
  /// The zone cron times are read in (UTC by default).
  public var timezone: TimeZoneRules

  /// How far ahead ``next(after:)`` looks for a cron time: eight years holds every day a cron expression
  /// can name (February 29 included), so an expression with no time in it never runs.
  static let horizonDays: Int64 = 8 * 366 + 1

  /// `every`'s range, in milliseconds.
  public static let everyRange: ClosedRange<Int64> = 1_000...(366 * 86_400_000)

  public init(kind: Kind, timezone: TimeZoneRules = .utc) {
    self.kind = kind
    self.timezone = timezone
  }

  /// The first time the schedule runs after `instant` (a schedule made at `created`); `nil` when it never
  /// runs again. A local time the clock skips (daylight saving starts) runs when the clock goes on; one
  /// the clock shows twice runs the first time only.
  public func next(after instant: Timestamp, created: Timestamp) -> Timestamp? {
    switch kind {
    case .every(let span, _):
      let elapsed = instant.milliseconds - created.milliseconds
      let periods = elapsed < 0 ? 0 : elapsed / span + 1
      return Timestamp(milliseconds: created.milliseconds + periods * span)
    case .cron(let cron):
      return nextCron(cron, after: instant.seconds)
    }
  }

  private func nextCron(_ cron: CronExpression, after instant: Int64) -> Timestamp? {
    let times = cron.times
    let localNow = instant + Int64(timezone.offset(at: instant))
    // From the day before (the local date of `instant` may be read on either side of a change).
    let firstDay = localNow.floorDivided(by: 86_400) - 1
    for day in firstDay...(firstDay + ScheduleSpec.horizonDays) {
      let (_, month, dayOfMonth) = Timestamp.civil(fromDays: day)
      let weekday = Int((day + 4).floorModulo(7))  // 1970-01-01 was a Thursday
      guard cron.matches(month: Int(month), day: Int(dayOfMonth), weekday: weekday) else { continue }
      for time in times {
        let local = day * 86_400 + Int64(time.hour * 3600 + time.minute * 60)
        let instants = timezone.instants(atLocal: local)
        // Twice shown: the first; skipped: when the clock goes on.
        guard let at = instants.first ?? timezone.endOfGap(atLocal: local) else { continue }
        if at > instant { return Timestamp(seconds: at) }
      }
    }
    return nil
  }

  /// The schedule as published (`{"cron": …, "timezone": …}` or `{"every": …}`).
  public var cronText: String? {
    if case .cron(let cron) = kind { return cron.text }
    return nil
  }

  public var everyText: String? {
    if case .every(_, let text) = kind { return text }
    return nil
  }
}

/// Which rows each run of a standing request takes: those whose `field` lies in the run's window.
public struct WindowSpec: Sendable, Equatable {
  /// A timestamp field of the job type.
  public var field: String
  /// Where the first window starts (`nil`: the schedule's creation).
  public var start: Timestamp?
  /// How far behind the run's time each window ends (default 1 minute, 0 to 24 hours).
  public var lagMilliseconds: Int64
  /// `lag` as written.
  public var lagText: String

  public static let lagRange: ClosedRange<Int64> = 0...86_400_000
  public static let defaultLag = (milliseconds: Int64(60_000), text: "1m")

  public init(field: String, start: Timestamp?, lagMilliseconds: Int64, lagText: String) {
    self.field = field
    self.start = start
    self.lagMilliseconds = lagMilliseconds
    self.lagText = lagText
  }
}
