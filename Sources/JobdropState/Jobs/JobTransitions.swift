import JobdropModel

/// The rules a job's moves follow besides the legal moves of ``JobState``, as pure functions of a job's
/// record: a durable cancel, which job an idempotency key names, and where recovery sends a job a dead
/// process left. No I/O: ``JobStore`` applies them to every move, whichever spool it has.
public enum JobTransitions {
  /// The error of a cancelled job.
  public static let cancelled = "cancelled"

  /// Where a move of `job` to `target` with `record` really goes. A job whose partner was answered
  /// `cancelled` (``JobRecord/cancelRequested``) never ends in `success` and never goes back to
  /// `pending`: whatever its runner reports (an export that finished as the cancel came, a shutdown
  /// that cut it short), it ends `failed` with the error `cancelled` and no file.
  public static func resolve(_ job: Job, to target: JobState, record: JobRecord) -> (JobState, JobRecord) {
    guard record.cancelRequested == true || job.record.cancelRequested == true, target != .failed
    else { return (target, record) }
    return (.failed, cancelledRecord(record))
  }

  /// `record` as a cancelled job keeps it: the error `cancelled`, no rows, no file, no retry.
  public static func cancelledRecord(_ record: JobRecord) -> JobRecord {
    var record = record
    record.cancelRequested = true
    record.error = cancelled
    record.rows = nil
    record.bytes = nil
    record.sha256 = nil
    record.fileName = nil
    record.retryAt = nil
    return record
  }

  /// Where recovery sends a job a dead process left `started`: back to `pending` to run again, or, if
  /// its partner had cancelled it, to `failed` as cancelled.
  public static func afterCrash(_ job: Job) -> (JobState, JobRecord) {
    var record = job.record
    record.rows = nil
    if job.state == .started && record.cancelRequested != true { return (.pending, record) }
    return resolve(job, to: .pending, record: record)
  }

  /// Whether `job` is the one its request's idempotency key names: any job made from the request,
  /// except one refused when it was dropped (a `failed` job never started and not cancelled: a request
  /// that was not valid, or one refused for reusing a key with other parameters, names no job by it).
  public static func holdsKey(_ job: Job) -> Bool {
    guard job.record.request?.idempotencyKey != nil else { return false }
    return job.state != .failed || job.record.attempts > 0 || job.record.error == cancelled
  }

  /// Why a request that reuses the idempotency key of `existing` is refused, or `nil` when it asks for
  /// the same export (the same job type, filter, format, columns and options): a key names one export.
  public static func keyConflict(_ request: ExportRequest, with existing: Job) -> String? {
    guard let first = existing.record.request, let key = request.idempotencyKey else { return nil }
    let differing = request.differences(from: first)
    guard !differing.isEmpty else { return nil }
    let named =
      differing.count == 1
      ? differing[0] : differing.dropLast().joined(separator: ", ") + " and " + differing.last!
    return
      "idempotency_key '\(key)' was already used for job \(existing.id) with a different \(named); "
      + "use a new key for a different export"
  }
}
