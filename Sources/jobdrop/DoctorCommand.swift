import ArgumentParser
import FoundationEssentials
import JobdropDaemon

struct DoctorCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "doctor",
    abstract:
      "Check a deployment: folders, modes, limits, the source, the partners file, bucket and webhooks.",
    discussion: """
      Takes the same options as `run` and changes nothing. Prints one line a check: ok, warn, fail (with
      what to do) or skip (not configured). Exits 0 unless a check fails.

      Example:
        jobdrop doctor --partners /etc/jobdrop/partners.json --source postgres://exports@db/shop
      """
  )

  @OptionGroup var options: SharedOptions

  @Option(help: "The folder `jobdrop serve-config nginx --out` wrote, checked against the partners file.")
  var nginxConfig: String?

  @Flag(help: "Print the checks as JSON ({\"checks\": [{\"name\", \"outcome\", \"message\"}], \"ok\": …}).")
  var json = false

  func run() throws {
    let configuration = try options.configuration()
    let checks = Doctor(configuration: configuration, nginxFolder: nginxConfig).run()
    let failed = checks.contains { $0.outcome == .fail }
    if json {
      struct Report: Encodable {
        var checks: [Doctor.Check]
        var ok: Bool
      }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      print(String(decoding: try encoder.encode(Report(checks: checks, ok: !failed)), as: UTF8.self))
    } else {
      let width = checks.map(\.name.count).max() ?? 0
      for check in checks {
        let name = check.name + String(repeating: " ", count: width - check.name.count)
        print("\(check.outcome.rawValue.padding(4))  \(name)  \(check.message)")
      }
    }
    if failed { throw ExitCode(1) }
  }
}

extension String {
  fileprivate func padding(_ width: Int) -> String {
    self + String(repeating: " ", count: max(0, width - count))
  }
}
