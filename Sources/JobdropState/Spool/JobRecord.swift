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
  /// Name of the published file inside `files/<id>/` (a split export's `manifest.json`).
  public var fileName: String?
  /// How many parts a split export was published as.
  public var parts: Int?
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
  /// Where the push of its files into its partner's storage stands, when its partner has `deliver`.
  public var delivery: DeliveryStatus?
  /// Its partner cancelled it while it was started, and was answered `cancelled`: it never ends in
  /// `success`, and a restart fails it instead of running it again.
  public var cancelRequested: Bool?
  /// The standing request this job is a run of (its schedule's id).
  public var scheduleID: String?
  /// The rows this run takes, when its schedule has a window.
  public var window: RunWindow?

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

extension JobRecord {
  /// The status file's content: what `JSONEncoder` with sorted keys writes for the record's `Codable`
  /// form (``JSONText``; the tests hold the two to the same bytes, and `JSONDecoder` reads it back),
  /// without the encoder's cost on a job's path.
  var json: [UInt8] {
    var json = JSONText()
    json.beginObject()
    json.field("attempts", attempts)
    json.field("bytes", bytes)
    json.field("cancelRequested", cancelRequested)
    json.field("createdAt", createdAt.rfc3339Milliseconds)
    if let delivery {
      json.object("delivery") { json in
        json.field("attempts", delivery.attempts)
        json.field("deliveredAt", delivery.deliveredAt?.rfc3339Milliseconds)
        json.field("gaveUp", delivery.gaveUp)
        json.field("lastError", delivery.lastError)
        json.field("sha256", delivery.sha256)
        json.field("url", delivery.url)
      }
    }
    json.field("error", error)
    json.field("fileName", fileName)
    json.field("id", id)
    if let claim = inboxClaim {
      json.object("inboxClaim") { json in
        json.object("identity") { json in
          json.field("device", claim.identity.device)
          json.field("inode", claim.identity.inode)
        }
        json.field("jobID", claim.jobID)
        json.field("name", claim.name)
        json.field("node", claim.node)
        json.field("sha256", claim.sha256)
      }
    }
    json.field("jobType", jobType)
    json.field("partner", partner)
    json.field("parts", parts)
    if let request {
      json.object("request") { JobRecord.write(request, to: &$0) }
    }
    json.field("requestAliases", requestAliases)
    json.field("requestFile", requestFile)
    json.field("retryAt", retryAt?.rfc3339Milliseconds)
    json.field("rows", rows)
    json.field("scheduleID", scheduleID)
    json.field("sha256", sha256)
    json.field("updatedAt", updatedAt.rfc3339Milliseconds)
    if let webhook {
      json.object("webhook") { json in
        json.field("attempts", webhook.attempts)
        json.field("deliveredAt", webhook.deliveredAt?.rfc3339Milliseconds)
        json.field("gaveUp", webhook.gaveUp)
        json.field("lastError", webhook.lastError)
      }
    }
    if let window {
      json.object("window") { json in
        json.field("field", window.field)
        json.field("from", window.from.rfc3339Milliseconds)
        json.field("to", window.to.rfc3339Milliseconds)
      }
    }
    json.endObject()
    return json.bytes
  }

  /// The fields of a request, into its open object.
  private static func write(_ request: ExportRequest, to json: inout JSONText) {
    json.field("columns", request.columns)
    if let csv = request.csv {
      json.object("csv") { json in
        json.field("bom", csv.byteOrderMark)
        json.field("delimiter", csv.delimiter.rawValue)
      }
    }
    json.field("dialect", request.dialect.rawValue)
    if let echo = request.eshopbox {
      json.object("eshopbox") { json in
        json.field("channelId", echo.channelId)
        json.field("exportFilters", echo.exportFilters)
        json.field("fileType", echo.fileType)
        json.field("jobType", echo.jobType)
        json.field("userId", echo.userId)
      }
    }
    json.field("filter", request.filter)
    json.field("format", request.format.rawValue)
    json.field("idempotencyKey", request.idempotencyKey)
    json.field("jobType", request.jobType)
    json.field("reference", request.reference)
    if let split = request.split {
      json.object("split") { json in
        switch split {
        case .rows(let rows): json.field("rows", rows)
        case .bytes(let bytes): json.field("bytes", bytes)
        }
      }
    }
  }
}
