import ArgumentParser
import JobdropDaemon

struct ProcessCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "process",
    abstract: "Run every request in the inbox and every pending job once, render the outbox, and exit.",
    discussion: """
      The batch build. Failed jobs are results, not errors: the exit status is 0 unless jobdrop itself
      could not work (bad options, spool locked by another process, unwritable outbox).

      Example:
        cp order-export.json inbox/ && jobdrop process && cat outbox/index.json
      """
  )

  @OptionGroup var options: SharedOptions

  func run() throws {
    let configuration = try options.configuration()
    if configuration.sharedSpool != nil {
      throw ValidationError(
        "--spool: `jobdrop process` works a file spool; nodes sharing a postgres:// spool run `jobdrop run`")
    }
    let logger = try options.logging.makeLogger()
    do {
      let workspace = try Workspace(configuration: configuration, logger: logger)
      let summary = try BatchProcessor(workspace: workspace, logger: logger).run()
      logger.info(
        "batch done",
        metadata: [
          "jobs.claimed": "\(summary.claimed)", "jobs.succeeded": "\(summary.succeeded)",
          "jobs.failed": "\(summary.failed)", "jobs.expired": "\(summary.expired)",
        ])
    } catch {
      printError("jobdrop process: \(error)")
      throw ExitCode(1)
    }
  }
}
