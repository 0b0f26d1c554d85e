import JobdropExport
import JobdropSystem
import Logging

/// Makes the outcomes of finished jobs durable in groups (a group commit), so a burst of small jobs pays
/// two file-system flushes per group (``Spool/commitMoves(_:alsoFlush:)``) instead of a dozen fsyncs per
/// job; a job started inside a group is not synced either.
///
/// Its thread commits what is staged at once after a quiet spell (a lone job waits for no one) and,
/// during a burst, once the first staged outcome is ``coalesceMilliseconds`` old, so a group gathers
/// what finished meanwhile. A job started without a sync that is still running after
/// ``confirmMilliseconds`` has its start made durable and published (`started`); one that ends sooner
/// goes from `pending` straight to its outcome. Until its commit a job shows its previous state. A commit
/// the disk refuses now (`ENOSPC`, `EIO`) is tried again every 0.5 s; any other failure is reported to
/// the runner, which stops.
// @unchecked: every mutable property is touched under `lock` (a ConditionLock, not a Mutex: threads wait on it for a change).
public final class OutcomeCommitter: @unchecked Sendable {
  /// How long the first outcome of a burst waits for others.
  public static let coalesceMilliseconds: Int64 = 2
  /// After this long without a commit, a staged outcome is committed at once.
  public static let quietMilliseconds: Int64 = 5
  /// How long a job may run before its start is made durable and shown.
  public static let confirmMilliseconds: Int64 = 50

  let store: JobStore
  let logger: Logger
  private let lock = ConditionLock()
  private var moves: [(job: Job, target: JobState, record: JobRecord)] = []
  /// The staged jobs' export files, published without a sync.
  private var exports: [UnsyncedFile] = []
  /// What to say once a staged job's outcome is committed (its log line), by job id: said only if the
  /// commit records it (not when another node holds the job's lease now).
  private var announcements: [String: @Sendable () -> Void] = [:]
  private var firstStagedAt: Int64 = 0
  private var lastCommitAt: Int64 = .min / 2
  /// Jobs started without a sync, and when.
  private var unconfirmed: [String: Int64] = [:]
  private var committing = false
  private var retryAt: Int64 = 0
  private var failure: (any Error)?
  private var thread: JoinableThread?
  private var stopping = false

  init(store: JobStore, logger: Logger) {
    self.store = store
    self.logger = logger
  }

  /// Notes a job started without a sync (and starts the thread on first use).
  func started(_ job: Job) throws {
    try lock.withLock {
      if let failure { throw failure }
      if thread == nil && !stopping { thread = JoinableThread(name: "jobdrop-commit") { [self] in run() } }
      unconfirmed[job.id] = ConditionLock.monotonicMilliseconds()
    }
    lock.broadcast()
  }

  /// Forgets a started job whose outcome was recorded without the group (it went back to `pending`).
  func forget(_ id: String) { lock.withLock { unconfirmed[id] = nil } }

  /// Stages a finished job's outcome; `export` is its export file, published without a sync; `announce`
  /// is called once the outcome is committed, if the commit records it.
  func stage(
    _ job: Job, to target: JobState, record: JobRecord, export: UnsyncedFile?,
    announce: @escaping @Sendable () -> Void = {}
  ) {
    lock.withLock {
      announcements[job.id] = announce
      unconfirmed[job.id] = nil
      if moves.isEmpty { firstStagedAt = ConditionLock.monotonicMilliseconds() }
      moves.append((job, target, record))
      if let export { exports.append(export) }
    }
    lock.broadcast()
  }

  /// Waits until every staged outcome is committed (committing them now); throws what stopped commits.
  public func flush() throws {
    while true {
      let done: Bool = try lock.withLock {
        if let failure { throw failure }
        if moves.isEmpty && !committing { return true }
        firstStagedAt = .min / 2  // due now
        lastCommitAt = .min / 2
        return false
      }
      if done { return }
      lock.broadcast()  // (outside the lock: broadcasting takes it)
      lock.withLock { lock.wait(untilMilliseconds: ConditionLock.monotonicMilliseconds() + 20) }
    }
  }

  /// Commits what is staged and stops the thread (a later grouped run starts it again); what cannot be
  /// committed now runs again at the next start (its jobs are still `started` or `pending` in the spool).
  public func stop() {
    try? flush()
    let running = lock.withLock {
      stopping = true
      defer { thread = nil }
      return thread
    }
    lock.broadcast()
    running?.join()
    lock.withLock { stopping = false }  // a later run starts the thread again
  }

  private func run() {
    while true {
      let work:
        (
          moves: [(job: Job, target: JobState, record: JobRecord)], exports: [UnsyncedFile],
          confirm: [String]
        )? = lock.withLock {
          while true {
            if stopping && moves.isEmpty { return nil }
            let now = ConditionLock.monotonicMilliseconds()
            var wake: Int64?
            var due = false
            if !moves.isEmpty && now >= retryAt {
              let at =
                now - lastCommitAt >= OutcomeCommitter.quietMilliseconds
                ? now : firstStagedAt + OutcomeCommitter.coalesceMilliseconds
              if at <= now { due = true } else { wake = at }
            } else if !moves.isEmpty {
              wake = retryAt
            }
            let confirm = unconfirmed.filter { now - $0.value >= OutcomeCommitter.confirmMilliseconds }.map(
              \.key)
            if due || !confirm.isEmpty {
              for id in confirm { unconfirmed[id] = nil }
              let taken = due ? moves : []
              let files = due ? exports : []
              if due {
                moves.removeAll()
                exports.removeAll()
                committing = true
              }
              return (taken, files, confirm)
            }
            if let earliest = unconfirmed.values.min() {
              let at = earliest + OutcomeCommitter.confirmMilliseconds
              wake = min(wake ?? at, at)
            }
            lock.wait(untilMilliseconds: wake)
          }
        }
      guard let work else { return }
      for id in work.confirm {
        // Still running: its start is made durable and shown (the store ignores a job that moved on).
        if let job = store.job(id: id), job.state == .started { try? store.update(job) }
      }
      guard !work.moves.isEmpty else { continue }
      do {
        let moved = try store.commitMoves(work.moves, alsoFlush: work.exports)
        let said = lock.withLock {
          committing = false
          lastCommitAt = ConditionLock.monotonicMilliseconds()
          retryAt = 0
          // A move the store did not make (another node holds the job's lease now) is not announced.
          return zip(work.moves, moved).compactMap { move, job in
            let announce = announcements.removeValue(forKey: move.job.id)
            return job.state == move.target ? announce : nil
          }
        }
        for announce in said { announce() }
      } catch  where JobStore.isTransient(error) {
        logger.warning(
          "cannot record the jobs' outcomes in the spool; retrying",
          metadata: ["jobs": "\(work.moves.count)", "error": "\(error)"])
        lock.withLock {
          // Back in front of what was staged meanwhile, tried again shortly.
          moves = work.moves + moves
          exports = work.exports + exports
          firstStagedAt = .min / 2
          committing = false
          retryAt = ConditionLock.monotonicMilliseconds() + 500
        }
      } catch {
        logger.error(
          "cannot record the jobs' outcomes in the spool", metadata: ["error": "\(error)"])
        lock.withLock {
          committing = false
          failure = error
          for move in work.moves { announcements[move.job.id] = nil }
        }
      }
      lock.broadcast()
    }
  }
}
