import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// `jobdrop process`: take every request in the inbox and every pending job, run them, expire old
/// jobs, render the outbox, and return.
///
/// It waits out the settle time of a cut-short request before failing it, so one batch run leaves no
/// request undecided.
public struct BatchProcessor {
  let workspace: Workspace
  let logger: Logger

  public init(workspace: Workspace, logger: Logger) {
    self.workspace = workspace
    self.logger = logger
  }

  /// What a batch run did.
  public struct Summary: Sendable, Equatable {
    public var claimed = 0
    public var succeeded = 0
    public var failed = 0
    public var expired = 0
  }

  public func run() throws -> Summary {
    var summary = Summary()
    let store = workspace.store
    summary.expired = try store.expire(now: .now())
    while true {
      let pass = try workspace.intake.scan()
      summary.claimed += pass.claimed.count
      summary.failed += pass.claimed.filter { $0.state == .failed }.count
      try store.publishIndex()
      while true {
        if let job = try workspace.runner.runNext() {
          if job.state == .success { summary.succeeded += 1 }
          if job.state == .failed { summary.failed += 1 }
          try store.publishIndex()
          continue
        }
        // Jobs waiting to retry a transient source failure are part of this batch: wait for them.
        guard let retry = store.nextRetry() else { break }
        let wait = retry.milliseconds - Timestamp.now().milliseconds
        if wait > 0 { usleep(useconds_t(min(wait, 60_000) * 1000)) }
      }
      guard let retryAt = pass.retryAt else { break }
      let wait = retryAt.milliseconds - Timestamp.now().milliseconds
      if wait > 0 {
        logger.info("waiting for a cut-short request to settle", metadata: ["wait.ms": "\(wait)"])
        usleep(useconds_t(min(wait, 60_000) * 1000))
      }
    }
    try store.publishIndex(force: true)
    return summary
  }
}
