import FoundationEssentials
import JobdropModel
import JobdropPostgres
import JobdropSystem

/// Reading jobs as the table has them now (``jobdrop status``, ``jobdrop submit``, the feed's rows).
extension PostgresSpool {
  /// The job `id` as the table has it now.
  public func job(id: String) throws -> Job? {
    try withConnection { connection in
      let result = try connection.execute(
        "SELECT state, record FROM jobdrop_jobs WHERE id = $1", [.text(id)])
      return try PostgresSpool.jobs(in: result).first
    }
  }

  /// The request's bytes as dropped.
  public func requestBytes(of id: String) throws -> [UInt8]? {
    try withConnection { connection in
      let result = try connection.execute(
        "SELECT encode(request, 'base64') FROM jobdrop_jobs WHERE id = $1", [.text(id)])
      return result.text(0, 0).flatMap { Data(base64Encoded: $0, options: .ignoreUnknownCharacters) }
        .map { Array($0) }
    }
  }

  /// The newest job claimed from a request file named `file` (of `partner`) created at `since` or later.
  public func claimed(file: String, partner: String?, since: Timestamp) throws -> Job? {
    try withConnection { connection in
      let result = try connection.execute(
        """
        SELECT state, record FROM jobdrop_jobs
        WHERE created_at >= $1 AND partner IS NOT DISTINCT FROM $2 AND record::json->>'requestFile' = $3
        ORDER BY created_at DESC LIMIT 1
        """, [.integer(since.milliseconds), partner.map(SQLValue.text) ?? .null, .text(file)])
      return try PostgresSpool.jobs(in: result).first
    }
  }

  /// Every job now, with the node running each started one (what `jobdrop status` lists).
  public func all() throws -> [(job: Job, node: String?)] {
    try withConnection { connection in
      let result = try connection.execute("SELECT state, record, node FROM jobdrop_jobs")
      return try (0..<result.count).compactMap { row in
        try PostgresSpool.job(in: result, row: row).map { ($0, result.text(row, 2)) }
      }
    }
  }

  /// Every job now: how many, and the number of the last change (what `jobdrop status --watch` redraws
  /// on).
  public func version() throws -> [Int64] {
    try withConnection { connection in
      let result = try connection.execute("SELECT count(*), coalesce(max(change), 0) FROM jobdrop_jobs")
      return [result.integer(0, 0) ?? 0, result.integer(0, 1) ?? 0]
    }
  }

  /// The rows of a result whose first two columns are `state, record`, as jobs (a row with no job,
  /// NULLs, left out).
  static func jobs(in result: PostgresResult) throws -> [Job] {
    try (0..<result.count).compactMap { try job(in: result, row: $0) }
  }

  /// Row `row` of a result whose first two columns are `state, record`, as a job.
  static func job(in result: PostgresResult, row: Int) throws -> Job? {
    guard let state = result.text(row, 0).flatMap(JobState.init(rawValue:)), let text = result.text(row, 1)
    else { return nil }
    return Job(record: try decode(text), state: state)
  }

  static func encode(_ record: JobRecord) -> String {
    String(decoding: Spool.encode(record), as: UTF8.self)
  }

  static func decode(_ text: String) throws -> JobRecord {
    try JSONDecoder().decode(JobRecord.self, from: Data(text.utf8))
  }
}
