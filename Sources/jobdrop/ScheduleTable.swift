import JobdropState

/// The standing requests `jobdrop status` prints under the jobs: when each runs next, how its last run
/// ended, and where its next window starts.
struct ScheduleTable {
  let schedules: [ScheduleRecord]
  var partners = false

  var text: String {
    var rows = [
      ["SCHEDULE"] + (partners ? ["PARTNER"] : []) + ["NEXT RUN", "LAST RUN", "WINDOW FROM", "FILE"]
    ]
    for record in schedules.sorted(by: { $0.name < $1.name }) {
      let last = record.live.map { _ in "running" } ?? record.last?.status?.rawValue ?? "-"
      rows.append(
        [record.id] + (partners ? [record.partner ?? "-"] : []) + [
          record.nextRunAt?.rfc3339 ?? "-", last,
          (record.windowEnd ?? record.live?.window?.from)?.rfc3339 ?? "-", String(record.name.prefix(80)),
        ])
    }
    return TextTable.render(rows)
  }
}
