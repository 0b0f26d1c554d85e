import ArgumentParser
import JobdropDaemon
import JobdropExport
import JobdropPostgres
import JobdropState
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

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
        jobdrop status --watch
      """
  )

  @OptionGroup var options: SharedOptions

  @Option(help: "Only this partner's jobs (with --partners).")
  var partner: String?

  @Flag(help: "Redraw the table whenever a job moves, until Ctrl-C.")
  var watch = false

  @Argument(help: "A job id; prints its document as published.")
  var id: String?

  func run() throws {
    let configuration = try options.configuration()
    if let url = configuration.sharedSpool { return try sharedStatus(url, configuration) }
    let spool: SpoolReader
    do {
      spool = try SpoolReader(path: configuration.spool)
    } catch {
      printError(
        "no spool at \(configuration.spool) (\(error.reason)); has `jobdrop run` or `process` run there?")
      throw ExitCode(1)
    }
    do {
      try SpoolFormat.check(spool.root)
    } catch {
      printError("\(error)")
      throw ExitCode(1)
    }
    if let id {
      return try printDocument(
        of: spool.job(id: id.lowercased()), id: id, in: configuration.spool, configuration)
    }
    guard watch else {
      print(try table(spool, reportDamaged: true), terminator: "")
      if let publishing = PublishingStatus.read(spool: configuration.spool) { print(publishing.summary) }
      return
    }
    let terminal = isatty(STDOUT_FILENO) == 1
    var first = true
    var drawn: [Int64] = []
    while true {
      // Every move and progress update renames a status file into a state folder, which changes that
      // folder's modification time: four fstat calls every 250 ms see it, and a burst is drawn once.
      // (libinotifytools cannot be asked for what is queued without waiting, so a burst would be drawn
      // once per event.)
      let version = JobState.allCases.flatMap { state -> [Int64] in
        var info = stat()
        fstat(spool.folder(state).descriptor, &info)
        return [Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec), Int64(info.st_size)]
      }
      if version != drawn {
        drawn = version
        let text = try table(spool, reportDamaged: first)
        // On a terminal the screen is cleared and the table drawn at the top; otherwise each table
        // follows the last after a blank line, with no escape codes.
        print(terminal ? "\u{1B}[H\u{1B}[2J" + text : (first ? "" : "\n") + text, terminator: "")
        fflush(nil)
        first = false
      }
      usleep(250_000)
    }
  }

  /// Prints `job`'s document as published, or says there is no job `id` in `place` (exit 1).
  private func printDocument(of job: Job?, id: String, in place: String, _ configuration: Configuration)
    throws
  {
    guard let job else {
      printError("no job \(id) in \(place)")
      throw ExitCode(1)
    }
    let document = Outbox.document(
      for: job, links: OutboxLinks(baseURL: configuration.baseURL), ttl: configuration.ttlSeconds)
    print(String(decoding: document, as: UTF8.self), terminator: "")
  }

  /// `status` of a shared spool (`--spool postgres://…`): the table's jobs, read without changing it.
  private func sharedStatus(_ url: String, _ configuration: Configuration) throws {
    let shared = try PostgresSpool(url: url, node: "status", leaseSeconds: 30, reading: true)
    do {
      if let id {
        return try printDocument(
          of: shared.job(id: id.lowercased()), id: id, in: shared.database, configuration)
      }
      let terminal = isatty(STDOUT_FILENO) == 1
      var drawn: [Int64]?
      repeat {
        let version = try shared.version()
        if version != drawn {
          let rows = try shared.all()
            .filter { partner == nil || $0.job.record.partner == partner }
            .sorted { $0.job.record.createdAt > $1.job.record.createdAt }
          let jobs = rows.map(\.job)
          var text = StatusTable(
            jobs: jobs, partners: jobs.contains { $0.record.partner != nil },
            nodes: Dictionary(rows.compactMap { row in row.node.map { (row.job.id, $0) } }) { first, _ in
              first
            }
          ).text
          let schedules = SharedScheduleBackend(table: shared).all().records.filter {
            partner == nil || $0.partner == partner
          }
          if !schedules.isEmpty {
            text +=
              "\n"
              + ScheduleTable(schedules: schedules, partners: jobs.contains { $0.record.partner != nil }).text
          }
          text += backlog(spool: configuration.spool)
          print(
            terminal && watch ? "\u{1B}[H\u{1B}[2J" + text : (drawn == nil ? "" : "\n") + text, terminator: ""
          )
          fflush(nil)
          drawn = version
        }
        if watch { usleep(250_000) }
      } while watch
    } catch let error as PostgresError {
      printError("cannot read the shared spool: \(error)")
      throw ExitCode(1)
    }
  }

  /// The deliveries and webhook events waiting in the (local) spool at `spool`, a line each.
  private func backlog(spool: String) -> String {
    OutgoingBacklog.read(spool: spool).summary.map { $0 + "\n" }.joined()
  }

  /// The table of the spool's jobs now (this partner's, with `--partner`).
  private func table(_ spool: SpoolReader, reportDamaged: Bool) throws -> String {
    let snapshot = try spool.snapshot()
    if reportDamaged {
      for path in snapshot.damaged { printError("damaged status file (not listed): \(path)") }
    }
    let jobs = snapshot.jobs.filter { partner == nil || $0.record.partner == partner }
      .sorted { $0.record.createdAt > $1.record.createdAt }
    let partners = partner != nil || snapshot.jobs.contains { $0.record.partner != nil }
    var text = StatusTable(jobs: jobs, partners: partners).text
    if let folder = ScheduleFolder(reading: spool) {
      let schedules = folder.all().records.filter { partner == nil || $0.partner == partner }
      if !schedules.isEmpty { text += "\n" + ScheduleTable(schedules: schedules, partners: partners).text }
    }
    text += backlog(spool: spool.root.path)
    if !snapshot.quarantined.isEmpty {
      text +=
        "\(snapshot.quarantined.count) damaged status record\(snapshot.quarantined.count == 1 ? "" : "s") "
        + "kept in the spool's damaged/ folder (their jobs were rebuilt or failed at a start; the log says "
        + "which): \(snapshot.quarantined.joined(separator: ", "))\n"
    }
    return text
  }
}

/// The job table `jobdrop status` prints: newest first, one line per job.
struct StatusTable {
  let jobs: [Job]
  /// Whether to show the partner column (a jobdrop serving partners).
  var partners = false
  /// With a shared spool: the node running each started job (a NODE column).
  var nodes: [String: String]?

  var text: String {
    var rows = [
      ["ID"] + (partners ? ["PARTNER"] : []) + ["STATUS"] + (nodes != nil ? ["NODE"] : []) + [
        "TYPE", "ROWS", "CREATED", "FILE / ERROR",
      ]
    ]
    for job in jobs {
      let record = job.record
      let detail = job.state == .failed ? (record.error ?? "") : record.requestFile
      rows.append(
        [job.id] + (partners ? [record.partner ?? "-"] : []) + [job.state.rawValue]
          + (nodes.map { [$0[job.id] ?? "-"] } ?? []) + [
            record.jobType.isEmpty ? "-" : record.jobType,
            record.rows.map(String.init) ?? "-",
            record.createdAt.rfc3339, String(detail.prefix(80)),
          ])
    }
    return TextTable.render(rows)
  }
}
