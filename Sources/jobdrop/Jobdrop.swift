import ArgumentParser
import JobdropSystem

/// The `jobdrop` command: export requests dropped into an inbox, published as a static site.
@main
struct Jobdrop: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "jobdrop",
    abstract: "Turn export requests dropped into an inbox into CSV files and job documents in an outbox.",
    discussion: """
      Partners drop Elastic Path or Eshopbox export requests (JSON) into the inbox; jobdrop runs each
      against the commerce database and publishes the CSV, one JSON document per job and index.json in
      the outbox, which any static web server can serve.
      """,
    version: JobdropVersion.current,
    subcommands: [
      RunCommand.self, ProcessCommand.self, SubmitCommand.self, StatusCommand.self, ValidateCommand.self,
      CatalogCommand.self, ServeConfigCommand.self, DoctorCommand.self,
      DemoDataCommand.self,
    ]
  )
}
