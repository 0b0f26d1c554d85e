import ArgumentParser
import JobdropDaemon

struct RunCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Watch the inbox and process requests until SIGTERM or SIGINT.",
    discussion: """
      Sees each request the moment it is written (inotify), claims it, runs it, and publishes the outbox.
      Requests left in the inbox and jobs left pending or started by an earlier run are taken at start.
      SIGTERM or SIGINT shut down gracefully (a job cut short goes back to pending) and exit 0.

      Example:
        jobdrop run --inbox /srv/sftp/acme/inbox --outbox /srv/www/exports
      """
  )

  @OptionGroup var options: SharedOptions

  func run() async throws {
    let configuration = try options.configuration()
    let logger = try options.logging.makeLogger()
    do {
      let workspace = try Workspace(configuration: configuration, logger: logger)
      try await Daemon(workspace: workspace, logger: logger).run()
    } catch {
      printError("jobdrop run: \(error)")
      throw ExitCode(1)
    }
  }
}
