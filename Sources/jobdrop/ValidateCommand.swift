import ArgumentParser
import JobdropModel
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

struct ValidateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "validate",
    abstract: "Check a request file: its JSON, job type, filter and columns.",
    discussion: """
      Exits 0 and prints a summary when the request is valid; exits 1 with the error on stderr when not.

      Example:
        jobdrop validate my-request.json
      """
  )

  @Argument(help: "The request file to check.")
  var file: String

  @OptionGroup var catalogOption: CatalogOption

  func run() throws {
    let configuration = try catalogOption.configuration()
    let descriptor = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard descriptor >= 0 else {
      printError("\(file): \(String(cString: strerror(errno)))")
      throw ExitCode(1)
    }
    defer { close(descriptor) }
    var info = stat()
    fstat(descriptor, &info)
    guard info.st_mode & S_IFMT == S_IFREG else {
      printError("\(file): not a regular file")
      throw ExitCode(1)
    }
    do {
      let bytes = try FileReader.readAll(descriptor, limit: RequestParser.maximumSize + 1, path: file)
      let request = try RequestParser(catalog: configuration.catalog).parse(bytes)
      let filter = request.filter.isEmpty ? "no filter" : "filter \(request.filter)"
      print("valid: \(request.jobType) (\(request.dialect.rawValue)), \(filter)")
    } catch {
      printError("\(file): \(error)")
      throw ExitCode(1)
    }
  }
}
