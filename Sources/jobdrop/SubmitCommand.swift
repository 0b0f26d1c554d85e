import ArgumentParser
import JobdropDaemon
import JobdropModel
import JobdropState
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

struct SubmitCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "submit",
    abstract: "Drop a request into the inbox atomically and print its job id once it is claimed.",
    discussion: """
      The file is written aside under a dot name and renamed into the inbox, so the daemon never sees it
      half-written. Waits (up to --timeout) for `jobdrop run` to claim it, then prints the job id.

      Example:
        id=$(jobdrop submit refunds.json) && curl -s https://exports.example.com/jobs/$id.json
      """
  )

  @OptionGroup var options: SharedOptions

  @Option(help: "With --partners: the partner whose drop folder (inbox/ID/) the request goes into.")
  var partner: String?

  @Flag(
    help:
      "After the claim, wait for the job's end: a live line on a terminal, then where the file is (exit 0) or the error (exit 1)."
  )
  var wait = false

  @Option(help: "How long to wait for the claim, e.g. 30s.")
  var timeout = "30s"

  @Argument(help: "The request file (named *.json).")
  var file: String

  func run() throws {
    let configuration = try options.configuration()
    guard let limit = DurationText.milliseconds(timeout, in: 1...86_400_000) else {
      throw ValidationError("--timeout: expected a duration from 1ms to 1d, such as 30s, got '\(timeout)'")
    }
    let name = String(file.split(separator: "/").last ?? Substring(file))
    guard name.hasSuffix(".json"), InboxEntryKind(FileName(name)) == .request else {
      throw ValidationError("\(file): a request file must be named NAME.json (not a dot name)")
    }
    do {
      let bytes = try SubmitCommand.read(file)
      let submitter = try RequestSubmitter(configuration: configuration, partner: partner)
      let job = try submitter.submit(bytes, as: FileName(name), timeoutMilliseconds: limit) { used in
        if used.display != name {
          printError("the inbox already has a file named \(name); submitted as \(used.display)")
        }
      }
      print(job.id)
      if wait {
        fflush(nil)  // the id is out before the live line
        let line = ProgressLine(terminal: isatty(STDOUT_FILENO) == 1)
        let finished = try submitter.waitForEnd(of: job) { line.show($0) }
        line.end()
        guard finished.state == .success else {
          printError("failed: \(finished.record.error ?? "failed")")
          throw ExitCode(1)
        }
        let site = configuration.outbox + (finished.record.partner.map { "/\($0)" } ?? "")
        let rows = finished.record.rows.map { "\($0) rows" } ?? "no rows"
        print("success: \(rows) in \(site)/files/\(finished.id)/\(finished.record.fileName ?? "")")
      }
    } catch let exit as ExitCode {
      throw exit
    } catch {
      printError("jobdrop submit: \(error)")
      throw ExitCode(1)
    }
  }

  static func read(_ path: String) throws -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard descriptor >= 0 else { throw FileSystemError(operation: "open", path: path, errno: errno) }
    defer { close(descriptor) }
    var info = stat()
    fstat(descriptor, &info)
    guard info.st_mode & S_IFMT == S_IFREG else { throw ValidationError("\(path): not a regular file") }
    return try FileReader.readAll(descriptor, limit: RequestParser.maximumSize + 1, path: path)
  }
}
