import JobdropSystem

/// `index.html`: the jobs of a site for people, newest first, rendered with `index.json`.
///
/// The page is complete without JavaScript: a table of the newest ``pageRows`` jobs (status as text,
/// job type, created in UTC, rows, size, reference, request file, and the download link or the error).
/// Its one inline script (nothing is loaded from outside the outbox; the Content-Security-Policy says
/// so) adds a status filter and a search, loads the whole `index.json` to page through every job, and
/// while the page is open revalidates `index.json` (a conditional request: a 304 while nothing moved)
/// every second while a job is live and every 3 seconds otherwise. Opened as a file, the table and its
/// filters still work; only the updates need a web server.
///
/// Each job's row is rendered once per change (``row(for:)``) and kept with its index entry, so a
/// render costs one concatenation.
enum JobPage {
  /// How many rows the page holds before its script loads the rest from `index.json`.
  static let pageRows = 500

  /// The table row of `job`, HTML-escaped throughout.
  static func row(for job: Job) -> [UInt8] {
    let record = job.record
    let status = job.state.rawValue
    let reference = record.request?.reference ?? ""
    let search = [reference, record.requestFile, record.fileName ?? ""].joined(separator: " ").lowercased()
    var html = "<tr data-status=\"\(status)\" data-search=\"\(escape(search))\">"
    html += "<td><span class=\"status \(status)\">\(JobPage.symbol(job.state)) \(status)</span></td>"
    html += "<td>\(escape(record.jobType))</td>"
    html += "<td><time datetime=\"\(record.createdAt.rfc3339)\">\(readable(record.createdAt))</time></td>"
    html += "<td class=\"number\">\(record.rows.map(grouped) ?? "")</td>"
    html += "<td class=\"number\"\(record.bytes.map { " title=\"\(grouped($0)) bytes\"" } ?? "")>"
    html += "\(record.bytes.map(size) ?? "")</td>"
    html += "<td>\(escape(reference))</td>"
    html += "<td>\(escape(record.requestFile))</td>"
    if job.state == .success, let name = record.fileName {
      let href = OutboxLinks(baseURL: nil).file(id: record.id, name: name)
      let parts = record.parts.map { " · \($0) part\($0 == 1 ? "" : "s")" } ?? ""
      html += "<td><a href=\"\(href)\" download>\(escape(name))</a>\(parts)"
      if let delivery = record.delivery { html += JobPage.delivery(delivery) }
      html += "</td>"
    } else if job.state == .failed {
      html += "<td class=\"error\">\(escape(record.error ?? "failed"))</td>"
    } else {
      html += "<td></td>"
    }
    html += "</tr>\n"
    return Array(html.utf8)
  }

  /// The whole page: `rows` are the newest jobs' rows (at most ``pageRows``), `counts` the number of
  /// jobs in each state, `total` the number of jobs in the index.
  static func render(
    rows: ArraySlice<[UInt8]>, counts: [JobState: Int], total: Int, partner: String?, at now: Timestamp,
    schedules: [UInt8] = []
  ) -> [UInt8] {
    let title = partner.map { "Jobs of \(escape($0))" } ?? "Jobs"
    let summary = JobState.allCases.map { "\(grouped(counts[$0] ?? 0)) \($0.rawValue)" }.joined(
      separator: ", ")
    var head = """
      <!doctype html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta name="color-scheme" content="light dark">
      <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
      script-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'">
      <link rel="icon" href="data:,">
      <title>\(title) · jobdrop</title>
      <style>\(JobPage.style)</style>
      </head>
      <body>
      <header>
      <h1>\(title)</h1>
      <p id="summary">\(grouped(total)) \(total == 1 ? "job" : "jobs"): \(summary). \
      Rendered <time datetime="\(now.rfc3339)">\(readable(now))</time> UTC.</p>
      <p id="live" role="status"></p>
      </header>
      <main>
      \(String(decoding: schedules, as: UTF8.self))<form id="controls" role="search" hidden>
      <label>Status <select id="status"><option value="">any</option>\
      \(JobState.allCases.map { "<option>\($0.rawValue)</option>" }.joined())</select></label>
      <label>Search <input id="search" type="search" placeholder="reference or file name" \
      autocomplete="off"></label>
      </form>
      <table>
      <thead><tr><th scope="col">Status</th><th scope="col">Job type</th><th scope="col">Created (UTC)</th>\
      <th scope="col" class="number">Rows</th><th scope="col" class="number">Size</th>\
      <th scope="col">Reference</th><th scope="col">Request file</th><th scope="col">File or error</th></tr></thead>
      <tbody id="jobs">

      """
    if rows.isEmpty {
      head += "<tr id=\"empty\"><td colspan=\"8\">No jobs yet: drop a request into the inbox.</td></tr>\n"
    }
    var bytes = Array(head.utf8)
    bytes.reserveCapacity(bytes.count + rows.reduce(0) { $0 + $1.count } + 8192)
    for row in rows { bytes += row }
    let more =
      total > rows.count
      ? "Showing the newest \(grouped(rows.count)) of \(grouped(total)) jobs; every job is in "
        + "<a href=\"index.json\">index.json</a>."
      : ""
    bytes += Array(
      """
      </tbody>
      </table>
      <p id="more-note">\(more)</p>
      <p><button id="more" type="button" hidden>Show more</button></p>
      </main>
      <footer><p>Served by jobdrop. Scripts read <a href="index.json">index.json</a>.</p></footer>
      <script>\(JobPage.script)</script>
      </body>
      </html>

      """.utf8)
    return bytes
  }

  /// The line under a delivered job's link: where and when its files arrived, or why not yet.
  static func delivery(_ delivery: DeliveryStatus) -> String {
    if let at = delivery.deliveredAt {
      let place = delivery.url.map { " title=\"\(escape($0))\"" } ?? ""
      return "<span class=\"delivery\"\(place)>delivered \(readable(at)) UTC</span>"
    }
    let attempts = "\(delivery.attempts) attempt\(delivery.attempts == 1 ? "" : "s")"
    guard let error = delivery.lastError else {
      return "<span class=\"delivery\">delivery pending</span>"
    }
    let what = delivery.gaveUp == true ? "delivery given up after" : "delivery retrying after"
    return "<span class=\"delivery error\">\(what) \(attempts): \(escape(error))</span>"
  }

  static func symbol(_ state: JobState) -> String {
    switch state {
    case .pending: "◷"
    case .started: "▶"
    case .success: "✓"
    case .failed: "✗"
    }
  }

  /// `&`, `<`, `>`, `"` and `'` as character references.
  static func escape(_ text: String) -> String {
    // Most text holds none of the five: returned as it is.
    if !text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) {
      return text
    }
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for character in text.unicodeScalars {
      switch character {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&#39;"
      default: result.unicodeScalars.append(character)
      }
    }
    return result
  }

  /// `2026-12-02 14:20:11`
  static func readable(_ time: Timestamp) -> String {
    var text = Array(time.rfc3339.utf8.prefix(19))  // 2026-12-02T14:20:11Z
    if let separator = text.firstIndex(of: UInt8(ascii: "T")) { text[separator] = UInt8(ascii: " ") }
    return String(decoding: text, as: UTF8.self)
  }

  /// `1,234,567`
  static func grouped(_ number: Int) -> String {
    let digits = String(number.magnitude)
    var result = ""
    for (offset, digit) in digits.enumerated() {
      if offset > 0 && (digits.count - offset) % 3 == 0 { result.append(",") }
      result.append(digit)
    }
    return number < 0 ? "-" + result : result
  }

  /// `512 B`, `1.5 KB`, `12.3 MB` (powers of 1,000, as file managers show them).
  static func size(_ bytes: Int) -> String {
    guard bytes >= 1000 else { return "\(bytes) B" }
    var value = Double(bytes)
    for unit in ["KB", "MB", "GB", "TB"] {
      value /= 1000
      if value < 999.95 || unit == "TB" {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(unit)"
      }
    }
    return "\(bytes) B"
  }
}
