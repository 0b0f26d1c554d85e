import JobdropState
import JobdropSystem
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
      let pass = try workspace.intakes.scan()
      summary.claimed += pass.claimed.count
      summary.failed += pass.claimed.filter { $0.state == .failed }.count
      try? store.publishIndex()  // an early render is a courtesy; the last one below must succeed
      let finished = try runPending()
      summary.succeeded += finished.succeeded
      summary.failed += finished.failed
      guard let retryAt = pass.retryAt else {
        // Claimed files leave the inbox at the end of a batch; a new upload found under one of their
        // names is part of this batch too.
        if workspace.intakes.retireAll().isEmpty { break }
        continue
      }
      let wait = retryAt.milliseconds - store.clock.now().milliseconds
      if wait > 0 {
        logger.info("waiting for a cut-short request to settle", metadata: ["wait.ms": "\(wait)"])
        usleep(useconds_t(min(wait, 60_000) * 1000))
      }
    }
    // Each event gets one attempt now; what fails stays in the spool for the next `run` (or `process`).
    if let webhooks = workspace.webhooks, webhooks.waiting > 0 {
      webhooks.deliverDueOnce()
      if webhooks.waiting > 0 {
        logger.notice(
          "webhook events not delivered yet stay in the spool; jobdrop run (or the next process) retries them",
          metadata: ["webhooks.waiting": "\(webhooks.waiting)"])
      }
    }
    if let deliveries = workspace.deliveries, deliveries.waiting > 0 {
      deliveries.deliverDueOnce()
      if deliveries.waiting > 0 {
        logger.notice(
          "deliveries not made yet stay in the spool; jobdrop run (or the next process) retries them",
          metadata: ["deliveries.waiting": "\(deliveries.waiting)"])
      }
    }
    try publishOutbox()
    // The bucket gets one pass now; what fails is put by the next `run` (or `process`) at its start.
    if let mirror = workspace.mirror, mirror.publishOnce() > 0 {
      logger.notice(
        "files not published to the bucket yet; jobdrop run (or the next process) publishes them at start",
        metadata: ["publish.waiting": "\(mirror.waiting)", "publish": "\(mirror.target)"])
    }
    return summary
  }

  /// Writes the documents a fault held back and the index, trying a few times (0.2 s apart) before it
  /// gives up; the spool keeps every job either way, and the next run publishes what is missing.
  private func publishOutbox() throws {
    let store = workspace.store
    var attempt = 0
    while true {
      do {
        let waiting = store.republish()
        try store.publishIndex(force: true)
        if waiting == 0 { return }
        if attempt >= 10 {
          throw ConfigurationError(
            "the outbox could not be written: \(waiting) job documents wait; they are written at the next run"
          )
        }
      } catch let error as FileSystemError where attempt < 10 {
        logger.warning("cannot write the outbox; retrying", metadata: ["error": "\(error)"])
      }
      attempt += 1
      usleep(200_000)
    }
  }

  /// Runs every pending job on `workers` threads; returns how many succeeded and failed.
  private func runPending() throws -> Summary {
    let workers = max(1, workspace.configuration.workers)
    let outcome = BatchOutcome()
    let work: @Sendable () -> Void = { [workspace] in
      var refusals = 0
      do {
        while true {
          let ran: Job?
          do {
            ran = try workspace.runner.runNext(grouped: true)
            refusals = 0
          } catch let error as FileSystemError where error.isTransient && refusals < 50 {
            // The spool refused to start a job (a full or failing disk): it stays pending; try again.
            refusals += 1
            usleep(100_000)
            continue
          }
          if let job = ran {
            outcome.count(job.state)
            try? workspace.store.publishIndex()
            continue
          }
          // Jobs waiting to retry a transient source failure are part of this batch: wait for them.
          guard let retry = workspace.store.nextRetry() else { return }
          let wait = retry.milliseconds - workspace.store.clock.now().milliseconds
          if wait > 0 { usleep(useconds_t(min(wait, 60_000) * 1000)) }
        }
      } catch {
        outcome.fail(error)
      }
    }
    if workers == 1 {
      work()
    } else {
      let threads = (0..<workers).map { worker in JoinableThread(name: "jobdrop-run-\(worker)", work) }
      threads.forEach { $0.join() }
    }
    // The outcomes were made durable in groups: all of them before the batch ends.
    do {
      try workspace.runner.committer.flush()
    } catch {
      outcome.fail(error)
    }
    workspace.runner.committer.stop()
    if let error = outcome.error { throw error }
    return outcome.summary
  }
}

/// Counts of a batch's finished jobs and its first error, shared by its worker threads.
// @unchecked: the counts and the error are only touched under `lock` (not a Mutex: it hands out an
// `any Error`, which is not Sendable).
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
