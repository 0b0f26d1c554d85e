import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// `jobdrop process`: take every request in the inbox and every pending job, run them, expire old
/// jobs, render the outbox, and return.
///
/// It waits out the settle time of a cut-short request before failing it, and the retries of a
/// transient database failure, so one batch run leaves no request undecided. With `--workers N`, N jobs
/// run at a time (still taken oldest first).
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
      let finished = try runPending()
      summary.succeeded += finished.succeeded
      summary.failed += finished.failed
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

  /// Runs every pending job on `workers` threads; returns how many succeeded and failed.
  private func runPending() throws -> Summary {
    let workers = max(1, workspace.configuration.workers)
    let outcome = BatchOutcome()
    let work: @Sendable () -> Void = { [workspace] in
      do {
        while true {
          if let job = try workspace.runner.runNext() {
            outcome.count(job.state)
            try workspace.store.publishIndex()
            continue
          }
          // Jobs waiting to retry a transient source failure are part of this batch: wait for them.
          guard let retry = workspace.store.nextRetry() else { return }
          let wait = retry.milliseconds - Timestamp.now().milliseconds
          if wait > 0 { usleep(useconds_t(min(wait, 60_000) * 1000)) }
        }
      } catch {
        outcome.fail(error)
      }
    }
    if workers == 1 {
      work()
    } else {
      let threads = (0..<workers).map { _ in JoinableThread(work) }
      threads.forEach { $0.join() }
    }
    if let error = outcome.error { throw error }
    return outcome.summary
  }
}

/// Counts of a batch's finished jobs and its first error, shared by its worker threads.
private final class BatchOutcome: @unchecked Sendable {
  private let lock = ConditionLock()
  private var counts = BatchProcessor.Summary()
  private var firstError: (any Error)?

  func count(_ state: JobState) {
    lock.withLock {
      if state == .success { counts.succeeded += 1 }
      if state == .failed { counts.failed += 1 }
    }
  }

  func fail(_ error: any Error) { lock.withLock { if firstError == nil { firstError = error } } }
  var summary: BatchProcessor.Summary { lock.withLock { counts } }
  var error: (any Error)? { lock.withLock { firstError } }
}
