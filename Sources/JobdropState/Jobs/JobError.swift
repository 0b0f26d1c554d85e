/// Why a run did not end in `success`: a code for the log and for whoever counts failures, the message the
/// partner reads in the job's `error` (never a path, a temp name, SQL or a host), and the underlying
/// error, whose whole text goes to the service's log only.
public struct JobError: Error, CustomStringConvertible {
  /// What kind of trouble it was.
  public enum Code: String, Sendable {
    /// The request cannot run as written (unreadable, an unknown job type, a bad filter).
    case badRequest = "bad_request"
    /// Its partner is no longer served, or no longer has the job type.
    case notServed = "not_served"
    /// The filter matched nothing (and empty exports are not published).
    case noResults = "no_results"
    /// Its partner cancelled it.
    case cancelled
    /// A shutdown or a lost lease cut it short: it goes back to `pending`, not to `failed`.
    case interrupted
    /// The data source failed (``JobError/transient`` when it may pass).
    case sourceFailed = "source_failed"
    /// The outbox could not take the file (a full disk, a failing one).
    case writeFailed = "write_failed"
    /// Anything else: the partner reads that it failed, the log says why.
    case internalError = "internal"
  }

  public var code: Code
  /// The text the job's `error` says.
  public var publicMessage: String
  /// What went wrong underneath, for the log (`nil` when the public message says it all).
  public var cause: (any Error)?
  /// The rows counted when it ended (published for a filter that matched nothing).
  public var rows: Int?
  /// Whether trying again later may succeed (a connection refused or dropped).
  public var transient = false

  public init(
    _ code: Code, _ publicMessage: String, cause: (any Error)? = nil, rows: Int? = nil,
    transient: Bool = false
  ) {
    self.code = code
    self.publicMessage = publicMessage
    self.cause = cause
    self.rows = rows
    self.transient = transient
  }

  /// A cancel by the job's partner.
  public static let cancelled = JobError(.cancelled, JobTransitions.cancelled)
  /// A run cut short by a shutdown or a lost lease.
  public static let interrupted = JobError(.interrupted, "interrupted")

  /// The log's text: the public message and, when there is one, the whole underlying error.
  public var description: String {
    guard let cause else { return publicMessage }
    return "\(publicMessage) (\(code.rawValue): \(cause))"
  }
}
