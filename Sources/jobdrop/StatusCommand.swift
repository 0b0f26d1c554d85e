import ArgumentParser
import JobdropState

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show a table of jobs, or one job's document.",
    discussion: """
      Reads the spool (the source of truth) without changing anything, so it is safe to run at any
      time beside `jobdrop run`. Damaged status files are listed on stderr.

      Examples:
        jobdrop status
        jobdrop status 3f1c2a9e-8b7d-4c1e-9f0a-1b2c3d4e5f60
        jobdrop status --partner acme
      """
  )

  @OptionGroup var options: SharedOptions

  @Option(help: "Only this partner's jobs (with --partners).")
  var partner: String?

  @Argument(help: "A job id; prints its document as published.")
  var id: String?

  func run() throws {
    let configuration = try options.configuration()
    let spool: SpoolReader
    do {
      spool = try SpoolReader(path: configuration.spool)
    } catch {
      printError(
        "no spool at \(configuration.spool) (\(error.reason)); has `jobdrop run` or `process` run there?")
      throw ExitCode(1)
    }
    if let id {
      guard let job = spool.job(id: id.lowercased()) else {
        printError("no job \(id) in \(configuration.spool)")
        throw ExitCode(1)
      }
      let document = try Outbox.document(
        for: job, links: OutboxLinks(baseURL: configuration.baseURL), ttl: configuration.ttlSeconds)
      print(String(decoding: document, as: UTF8.self), terminator: "")
      return
    }
    let snapshot = try spool.snapshot()
    for path in snapshot.damaged { printError("damaged status file (not listed): \(path)") }
    let jobs = snapshot.jobs.filter { partner == nil || $0.record.partner == partner }
      .sorted { $0.record.createdAt > $1.record.createdAt }
    let partners = partner != nil || snapshot.jobs.contains { $0.record.partner != nil }
    print(StatusTable(jobs: jobs, partners: partners).text, terminator: "")
  }
}

/// The job table `jobdrop status` prints: newest first, one line per job.
struct StatusTable {
  let jobs: [Job]
  /// Whether to show the partner column (a jobdrop serving partners).
  var partners = false

  var text: String {
    var rows = [
      ["ID"] + (partners ? ["PARTNER"] : []) + ["STATUS", "TYPE", "ROWS", "CREATED", "FILE / ERROR"]
    ]
    for job in jobs {
      let record = job.record
      let detail = job.state == .failed ? (record.error ?? "") : record.requestFile
      rows.append(
        [job.id] + (partners ? [record.partner ?? "-"] : []) + [
          job.state.rawValue, record.jobType.isEmpty ? "-" : record.jobType,
          record.rows.map(String.init) ?? "-",
          record.createdAt.rfc3339, String(detail.prefix(80)),
        ])
    }
    let widths = (0..<rows[0].count - 1).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
      row.enumerated().map { index, cell in
        index < widths.count ? cell + String(repeating: " ", count: widths[index] - cell.count) : cell
      }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
  }
}
