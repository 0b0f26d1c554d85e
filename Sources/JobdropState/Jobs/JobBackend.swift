import JobdropModel
import JobdropSystem

/// Where jobs' state is kept durably: the spool's state folders on this machine (``FileJobBackend``) or
/// a table several nodes share (``SharedJobBackend``). Both keep the same states and the same legal
/// moves, and every call is durable when it returns. ``JobStore`` holds the jobs in memory
/// (``JobTable``) and calls these; it never asks which backend it has, only what it can do.
public protocol JobBackend: Sendable {
  /// The node whose claims these are (several nodes), written into each claim; `nil` on one machine.
  var node: String? { get }
  /// The backend picks the next job to start itself, across every node (``claimNext(now:)``), rather
  /// than the store's fair queue.
  var picksNextJob: Bool { get }
  /// Other processes write the same jobs (several nodes): a job's export file must reach the shared
  /// bucket before its success is recorded.
  var isShared: Bool { get }

  /// Hands every job on after undoing what a crash cut short (see ``Spool/recover(_:returningRequestsTo:each:)``):
  /// this node's jobs a dead process left `started` are handed on after their move back to `pending`
  /// (or to `failed`, cancelled) at `now`, with `cutShort` set.
  func recover(
    _ lock: SpoolLock, inbox: Inbox, now: Timestamp, each: (_ job: Job, _ cutShort: Bool) throws -> Void
  ) throws -> Spool.Recovery

  /// Makes `claim` a job now.
  func claim(_ claim: PostgresSpool.Claim) throws -> Job
  /// Adds `claim` to `group`, made durable by ``commitClaims(_:)``.
  func stage(_ claim: PostgresSpool.Claim, into group: ClaimGroup) throws
  /// Makes a group's claims durable together; returns the jobs as made where a claim came back other
  /// than staged (a shared table's partner limit refused it).
  func commitClaims(_ group: ClaimGroup) throws -> [String: Job]
  /// Undoes what a failed commit of `group` left.
  func discardClaims(_ group: ClaimGroup)

  /// Takes the next job to start, changed by `modify` (only where ``picksNextJob``); without `durable`
  /// (inside a group), the changed record may be stored only with the job's next write.
  func claimNext(now: Timestamp, durable: Bool, modify: (JobRecord) -> JobRecord) throws -> Job?
  /// Moves `job` to `target` with `record`; with `durable` off, a start is made in memory only (the
  /// file spool; see ``JobStore/startNextPending(durable:)``).
  func move(_ job: Job, to target: JobState, record: JobRecord, durable: Bool) throws -> Job
  /// Makes many moves durable together, with `alsoFlush` (their export files); `nil` for a move whose
  /// job another node holds now.
  func commitMoves(_ moves: [(job: Job, target: JobState, record: JobRecord)], alsoFlush: [UnsyncedFile])
    throws -> [Job?]
  /// Rewrites a job's record in its state; returns whether its partner asked to cancel it meanwhile.
  func update(_ job: Job) throws -> Bool
  /// Removes a stale copy of job `id`'s record in `state` (one rewritten in its old state after a move).
  func retire(_ id: String, from state: JobState)
  /// Records that the partner cancelled `job` (started; its record says so), before the answer.
  func requestCancel(_ job: Job) throws
  /// The job `id` as stored, in `state` when known.
  func job(id: String, state: JobState) -> Job?
  /// Forgets a finished job.
  func remove(_ id: String, in state: JobState) throws

  /// Other processes' changes since the last call (none on one machine), and the started jobs among them
  /// whose partner asked to cancel them.
  func changes() throws -> (jobs: [Job], cancelled: Set<String>)
  /// Every job, from the beginning (for a node that starts rendering the index).
  func everyJob(_ each: (Job) -> Void) throws
  /// Whether this process renders the index now (always, on one machine).
  func holdsIndexLock() -> Bool
  /// Jobs whose node died, sent back to `pending`.
  func reapLapsedLeases(now: Timestamp) throws -> [Job]
}
