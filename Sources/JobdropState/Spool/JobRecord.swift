import JobdropModel
import JobdropSystem

/// What the spool remembers of a job: the content of its status file. The state is the folder, not a field.
public struct JobRecord: Codable, Sendable, Equatable {
  /// Random lowercase UUID v4; also the capability in the file's URL.
  public var id: String
  /// The name the request was dropped as (printable form).
  public var requestFile: String
  /// The job type as requested (possibly unknown, or empty when the file could not be read).
  public var jobType: String
  /// The parsed request; `nil` when the file could not be parsed.
  public var request: ExportRequest?
  public var createdAt: Timestamp
  public var updatedAt: Timestamp
  /// Why the job failed.
  public var error: String?
  /// Rows written so far (while started) or in all (on success).
  public var rows: Int?
  /// Size of the published file.
  public var bytes: Int?
  /// SHA-256 of the published file, hex.
  public var sha256: String?
  /// Name of the published file inside `files/<id>/`.
  public var fileName: String?
  /// How many times the job has been started.
  public var attempts: Int
  /// Not to be started before this time (a transient source failure is being retried).
  public var retryAt: Timestamp?
  /// The partner whose job this is (`inbox/<partner>/`); `nil` without `--partners`.
  public var partner: String?
  /// The inbox file the job was claimed from (`nil` for records written before claims kept it).
  public var inboxClaim: InboxClaim?
  /// Other request files whose `requests/<name>` document is this job: later requests with its
  /// idempotency key, dropped while it was live.
  public var requestAliases: [String]?
  /// Where the job's webhook event stands, when its partner has a webhook.
  public var webhook: WebhookStatus?

  public init(
    id: String, requestFile: String, jobType: String, request: ExportRequest?, createdAt: Timestamp,
    error: String? = nil, partner: String? = nil
  ) {
    self.partner = partner
    self.id = id
    self.requestFile = requestFile
    self.jobType = jobType
    self.request = request
    self.createdAt = createdAt
    self.updatedAt = createdAt
    self.error = error
    self.attempts = 0
  }
}

/// A job as the daemon sees it: its record and the state folder it is in.
public struct Job: Sendable, Equatable {
  public var record: JobRecord
  public var state: JobState

  public init(record: JobRecord, state: JobState) {
    self.record = record
    self.state = state
  }

  public var id: String { record.id }
}
