import ArgumentParser
import JobdropCore

struct RunCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Watch the inbox and process requests until SIGTERM or SIGINT.",
    discussion: """
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
      logger.warning("the inbox watcher is not built yet: processing the inbox once and exiting")
      _ = try BatchProcessor(workspace: workspace, logger: logger).run()
    } catch {
      printError("jobdrop run: \(error)")
      throw ExitCode(1)
    }
  }
}
