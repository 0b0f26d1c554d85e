/// The Content-Type and Cache-Control of each file of the static site, as the shipped nginx configuration
/// (``NginxSite``) serves them, for copies of the site that carry their headers with them (a bucket).
enum SiteHeaders {
  /// File extension → Content-Type (nginx's `types` and `charset_types` with `charset utf-8`).
  static let contentTypes: [String: String] = [
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "gz": "application/gzip",
    "zst": "application/zstd",
    "parquet": "application/vnd.apache.parquet",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ]

  /// Export files never change once published.
  static let immutable = "public, max-age=604800, immutable"

  /// The Content-Type of the outbox file at `path`.
  static func contentType(for path: String) -> String {
    let name = path.split(separator: "/").last ?? ""
    guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
    return contentTypes[String(name[name.index(after: dot)...])] ?? "application/octet-stream"
  }

  /// The Cache-Control of the outbox file at `path` (in the root site or a partner's `<id>/` site):
  /// documents are revalidated every time, export files kept a week, error bodies never stored.
  static func cacheControl(for path: String) -> String {
    switch withinSite(path).first ?? "" {
    case "files": return immutable
    case "errors": return "no-store"
    default: return "no-cache"
    }
  }

  /// What a site holds at its top level.
  static let siteEntries: Set<Substring> = [
    "index.json", "index.html", "jobs", "requests", "files", "errors",
  ]

  /// The parts of an outbox path within its site (a partner's `<id>/` taken off).
  static func withinSite(_ path: String) -> [Substring] {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    return parts.count > 1 && !siteEntries.contains(parts[0]) ? Array(parts.dropFirst()) : parts
  }
}
