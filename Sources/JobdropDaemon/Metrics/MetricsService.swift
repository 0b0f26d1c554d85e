import JobdropState
import JobdropSystem
import Logging
import ServiceLifecycle

/// Writes the metrics (``MetricsExposition``) to `--metrics FILE` every few seconds, atomically (a temp
/// file renamed over it), as node_exporter's textfile collector reads it; a last time at shutdown.
public struct MetricsService: Service {
  let exposition: MetricsExposition
  let path: String
  let logger: Logger
  /// Milliseconds between writes.
  static let interval: Int64 = 5_000

  public init(exposition: MetricsExposition, path: String, logger: Logger) {
    self.exposition = exposition
    self.path = path
    self.logger = logger
  }

  public func run() async throws {
    let control = ThreadControl()
    try await DedicatedThread.runService(
      name: "jobdrop-metrics", what: "metrics writer", logger: logger, stop: control.stop
    ) { [exposition, path, logger] in
      let slash = path.lastIndex(of: "/")
      let folder = slash.map { String(path[..<$0]) } ?? "."
      let name = FileName(slash.map { String(path[path.index(after: $0)...]) } ?? path)
      var failing = false
      func write() {
        do {
          let directory = try DirectoryHandle(path: folder.isEmpty ? "/" : folder)
          try AtomicWriter.write(Array(exposition.text().utf8), to: name, in: directory, syncFile: false)
          failing = false
        } catch {
          if !failing {
            logger.warning("cannot write the metrics file; will retry", metadata: ["error": "\(error)"])
          }
          failing = true
        }
      }
      while true {
        write()
        guard
          control.sleep(untilMilliseconds: ConditionLock.monotonicMilliseconds() + MetricsService.interval)
        else { break }
      }
      write()
    }
  }
}
