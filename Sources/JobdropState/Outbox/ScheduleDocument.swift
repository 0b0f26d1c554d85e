import JobdropModel
import JobdropSystem

/// A standing request as published (`schedules/<id>.json`, an entry of `schedules.json`, and the
/// `requests/<name>` document of its file): its request as dropped, its times, its runs and where its
/// next window starts.
struct ScheduleDocument {
  let record: ScheduleRecord
  let request: ExportRequest
  let links: OutboxLinks

  /// The schedule object (what `{"data": …}` wraps).
  var json: [UInt8] {
    var json = JSONText()
    json.beginObject()
    json.field("id", record.id)
    if let last = record.last {
      json.object("last_run") { ScheduleDocument.write(last, links: links, to: &$0) }
    }
    json.object("links") { $0.field("self", links.schedule(id: record.id)) }
    if let live = record.live {
      json.object("live_run") { ScheduleDocument.write(live, links: links, to: &$0) }
    }
    json.object("meta") { json in
      json.field("partner", record.partner)
      json.object("request") { $0.field("file", record.name) }
    }
    json.field("next_run_at", record.nextRunAt?.rfc3339)
    json.field("request", json: Array(record.request.utf8).trimmingJSONWhitespace)
    if let spec = request.schedule {
      json.object("schedule") { json in
        json.field("cron", spec.cronText)
        json.field("every", spec.everyText)
        json.field("timezone", spec.timezone.name)
      }
    }
    json.field("status", "active")
    json.object("timestamps") { json in
      json.field("created_at", record.createdAt.rfc3339Milliseconds)
      json.field("updated_at", record.updatedAt.rfc3339Milliseconds)
    }
    json.field("type", "schedule")
    if let window = request.window {
      json.object("window") { json in
        json.field("field", window.field)
        json.field("lag", window.lagText)
        json.field("since", "last")
        json.field("start", window.start?.rfc3339)
      }
      json.field("window_end", (record.windowEnd ?? window.start ?? record.createdAt).rfc3339)
    }
    json.endObject()
    return json.bytes
  }

  /// `{"data": <schedule>}`, a line.
  var document: [UInt8] { Array(#"{"data":"#.utf8) + json + Array("}\n".utf8) }

  private static func write(_ run: ScheduleRecord.Run, links: OutboxLinks, to json: inout JSONText) {
    json.field("id", run.jobID)
    json.object("links") { $0.field("self", links.job(id: run.jobID)) }
    json.field("scheduled_at", run.scheduledAt.rfc3339)
    json.field("status", run.status?.rawValue ?? "live")
    if let window = run.window {
      json.object("window") { json in
        json.field("field", window.field)
        json.field("from", window.from.rfc3339)
        json.field("to", window.to.rfc3339)
      }
    }
  }
}

extension ScheduleDocument {
  /// The job page's section of `schedules` (nothing when there are none): each one's file, its times,
  /// its last run and where its next window starts.
  static func section(_ schedules: [(record: ScheduleRecord, request: ExportRequest)]) -> [UInt8] {
    guard !schedules.isEmpty else { return [] }
    var html = """
      <section id="schedules"><h2>Schedules</h2>
      <table><thead><tr><th scope="col">Request file</th><th scope="col">Runs</th>\
      <th scope="col">Next run (UTC)</th><th scope="col">Last run</th>\
      <th scope="col">Next window from (UTC)</th></tr></thead><tbody>

      """
    for (record, request) in schedules {
      let spec = request.schedule
      let when =
        spec?.cronText.map { "cron \($0) (\(spec!.timezone.name))" } ?? spec?.everyText.map { "every \($0)" }
        ?? ""
      let last = record.live != nil ? "running" : record.last?.status?.rawValue ?? "none yet"
      let from = request.window.map { record.windowEnd ?? $0.start ?? record.createdAt }
      html += "<tr><td>\(JobPage.escape(record.name))</td><td>\(JobPage.escape(when))</td>"
      html += "<td>\(record.nextRunAt.map { JobPage.readable($0) } ?? "")</td><td>\(last)</td>"
      html += "<td>\(from.map { JobPage.readable($0) } ?? "")</td></tr>\n"
    }
    html += "</tbody></table></section>\n"
    return Array(html.utf8)
  }
}

extension Array where Element == UInt8 {
  /// The JSON text without the whitespace around it (a request file's trailing newline).
  fileprivate var trimmingJSONWhitespace: [UInt8] {
    let space: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
    guard let first = firstIndex(where: { !space.contains($0) }),
      let last = lastIndex(where: { !space.contains($0) })
    else { return Array("null".utf8) }
    return Array(self[first...last])
  }
}
