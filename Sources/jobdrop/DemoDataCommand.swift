import ArgumentParser
import FoundationEssentials
import JobdropDemo
import JobdropExport
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

struct DemoDataCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo-data",
    abstract: "Create the reference commerce schema with deterministic sample data.",
    discussion: """
      The same --orders gives the same rows every time. The database is built aside and renamed into
      place, so an existing store is replaced only by a complete one.

      Example:
        jobdrop demo-data --orders 100000 --source sqlite:data/store.sqlite
      """
  )

  @Option(help: "How many orders to create.")
  var orders = 10_000

  @Option(
    help:
      "Where to create it: sqlite:PATH or postgres://user@host:port/db (env JOBDROP_SOURCE; default sqlite:data/store.sqlite)."
  )
  var source: String?

  @Flag(help: "Only create the store when it does not exist yet.")
  var ifMissing = false

  func validate() throws {
    guard orders >= 0 else { throw ValidationError("--orders must be 0 or more") }
  }

  func run() throws {
    let text = source ?? ProcessInfo.processInfo.environment["JOBDROP_SOURCE"] ?? "sqlite:data/store.sqlite"
    let location: DataSourceLocation
    do {
      location = try DataSourceLocation(parsing: text)
    } catch {
      throw ValidationError(error.message)
    }
    switch location {
    case .sqlite(let path):
      if ifMissing && FileExists.regularFile(path) {
        print("\(path) exists; leaving it as it is")
        return
      }
      let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(
        separator: "/")
      if !directory.isEmpty { try DirectoryHandle.makeDirectories(directory, mode: 0o755) }
      let clock = ContinuousClock.now
      do {
        try DemoData(orders: orders).generate(at: path)
      } catch {
        printError("jobdrop demo-data: \(error)")
        throw ExitCode(1)
      }
      print("created \(path) with \(orders) orders in \(ContinuousClock.now - clock)")
    case .postgres(let url):
      let clock = ContinuousClock.now
      do {
        try DemoData(orders: orders).generate(postgres: url, displayName: location.description)
      } catch {
        printError("jobdrop demo-data: \(error)")
        throw ExitCode(1)
      }
      print("created the demo tables in \(location) with \(orders) orders in \(ContinuousClock.now - clock)")
    }
  }
}

enum FileExists {
  static func regularFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
  }
}
