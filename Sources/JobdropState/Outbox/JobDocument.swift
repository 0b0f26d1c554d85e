import JobdropModel
import JobdropSystem

/// A job as published: Elastic Path's Job object plus jobdrop's `meta`.
struct JobDocument: Encodable {
  var id: String
  var type = "job"
  var jobType: String
  var status: JobState
  var error: String?
  var link: Link
  var links: Links
  var timestamps: Timestamps
  var meta: Meta
  // Eshopbox "Export Job" fields, for jobs requested in that dialect.
  var eshopboxJobType: String?
  var channelId: String?
  var userId: String?
  var fileType: String?
  var exportFilters: [String: String]?
  var filePath: String?
  var createdAt: Timestamp?
  var updatedAt: Timestamp?

  struct Link: Encodable { var href: String }
  struct Links: Encodable { var `self`: String }

  struct Timestamps: Encodable {
    var createdAt: Timestamp
    var updatedAt: Timestamp
    enum CodingKeys: String, CodingKey {
      case createdAt = "created_at"
      case updatedAt = "updated_at"
    }
  }

  struct Meta: Encodable {
    var rows: Int?
    var bytes: Int?
    var sha256: String?
    var expiresAt: Timestamp
    var request: Request
    /// The partner whose job it is, with `--partners`.
    var partner: String?
    var webhook: Webhook?
    /// The schedule whose run this job is, and the window of rows it takes.
    var schedule: String?
    var window: Window?
    /// How many parts a split export has (its manifest is `link.href`).
    var parts: Int?
    var delivery: Delivery?
    enum CodingKeys: String, CodingKey {
      case rows, bytes, sha256, request, partner, webhook, schedule, window, parts, delivery
      case expiresAt = "expires_at"
    }
  }

  /// `meta.window`: a run's rows are those whose `field` is at or after `from` and before `to`.
  struct Window: Encodable {
    var field: String
    var from: String
    var to: String
  }

  /// `meta.delivery`: when and where the files arrived, or how many attempts failed and why.
  struct Delivery: Encodable {
    var deliveredAt: Timestamp?
    var url: String?
    var sha256: String?
    var attempts: Int?
    var lastError: String?
    var gaveUp: Bool?
    enum CodingKeys: String, CodingKey {
      case url, sha256, attempts
      case deliveredAt = "delivered_at"
      case lastError = "last_error"
      case gaveUp = "gave_up"
    }
  }

  /// `meta.webhook`: when the event was delivered, or how many attempts failed and why.
  struct Webhook: Encodable {
    var deliveredAt: Timestamp?
    var attempts: Int
    var lastError: String?
    var gaveUp: Bool?
    enum CodingKeys: String, CodingKey {
      case attempts
      case deliveredAt = "delivered_at"
      case lastError = "last_error"
      case gaveUp = "gave_up"
    }
  }

  struct Request: Encodable {
    var file: String
    var reference: String?
    var filter: String?
    var dialect: String?
    var columns: [String]?
    var format: String?
    /// The CSV options the request gave.
    var delimiter: String?
    var bom: Bool?
    var idempotencyKey: String?
    /// `split` as asked: `{"rows": N}` or `{"bytes": N}`.
    var split: ExportRequest.Split?
    enum CodingKeys: String, CodingKey {
      case file, reference, filter, dialect, columns, format, delimiter, bom, split
      case idempotencyKey = "idempotency_key"
    }
  }

  enum CodingKeys: String, CodingKey {
    case id, type, status, error, link, links, timestamps, meta
    case channelId, userId, fileType, exportFilters, filePath, createdAt, updatedAt
    case jobType = "job_type"
    case eshopboxJobType = "jobType"
  }

  init(job: Job, links: OutboxLinks, ttl: Int64) {
    let record = job.record
    id = record.id
    jobType = record.jobType
    status = job.state
    error = job.state == .failed ? record.error ?? "failed" : nil
    let href = job.state == .success ? record.fileName.map { links.file(id: record.id, name: $0) } : nil
    link = Link(href: href ?? "")
    self.links = Links(self: links.job(id: record.id))
    timestamps = Timestamps(createdAt: record.createdAt, updatedAt: record.updatedAt)
    meta = Meta(
      rows: record.rows, bytes: record.bytes, sha256: record.sha256,
      expiresAt: record.createdAt.adding(seconds: ttl),
      request: Request(
        file: record.requestFile, reference: record.request?.reference, filter: record.request?.filter,
        dialect: record.request?.dialect.rawValue, columns: record.request?.columns,
        format: record.request?.format.rawValue, delimiter: record.request?.csv?.delimiter.rawValue,
        bom: record.request?.csv?.byteOrderMark, idempotencyKey: record.request?.idempotencyKey,
        split: record.request?.split),
      partner: record.partner,
      webhook: record.webhook.map {
        Webhook(
          deliveredAt: $0.deliveredAt, attempts: $0.attempts, lastError: $0.lastError, gaveUp: $0.gaveUp)
      }, schedule: record.scheduleID,
      window: record.window.map { Window(field: $0.field, from: $0.from.rfc3339, to: $0.to.rfc3339) },
      parts: job.state == .success ? record.parts : nil,
      delivery: record.delivery.map { status in
        status.deliveredAt != nil
          ? Delivery(deliveredAt: status.deliveredAt, url: status.url, sha256: status.sha256)
          : Delivery(attempts: status.attempts, lastError: status.lastError, gaveUp: status.gaveUp)
      })
    if let echo = record.request?.eshopbox {
      eshopboxJobType = echo.jobType
      channelId = echo.channelId
      userId = echo.userId
      fileType = echo.fileType
      exportFilters = echo.exportFilters
      filePath = link.href
      createdAt = record.createdAt
      updatedAt = record.updatedAt
    }
  }
}

extension JobDocument {
  /// The document as `JSONEncoder` with sorted keys writes its `Encodable` form (``JSONText``; the
  /// tests hold the two to the same bytes), without the encoder's cost on a job's path.
  var json: [UInt8] {
    var json = JSONText()
    json.beginObject()
    json.field("channelId", channelId)
    json.field("createdAt", createdAt?.rfc3339Milliseconds)
    json.field("error", error)
    json.field("exportFilters", exportFilters)
    json.field("filePath", filePath)
    json.field("fileType", fileType)
    json.field("id", id)
    json.field("jobType", eshopboxJobType)
    json.field("job_type", jobType)
    json.object("link") { $0.field("href", link.href) }
    json.object("links") { $0.field("self", links.`self`) }
    json.object("meta") { meta.write(to: &$0) }
    json.field("status", status.rawValue)
    json.object("timestamps") { json in
      json.field("created_at", timestamps.createdAt.rfc3339Milliseconds)
      json.field("updated_at", timestamps.updatedAt.rfc3339Milliseconds)
    }
    json.field("type", type)
    json.field("updatedAt", updatedAt?.rfc3339Milliseconds)
    json.field("userId", userId)
    json.endObject()
    return json.bytes
  }
}

extension JobDocument.Meta {
  /// The fields of `meta`, into its open object.
  fileprivate func write(to json: inout JSONText) {
    json.field("bytes", bytes)
    if let delivery {
      json.object("delivery") { json in
        json.field("attempts", delivery.attempts)
        json.field("delivered_at", delivery.deliveredAt?.rfc3339Milliseconds)
        json.field("gave_up", delivery.gaveUp)
        json.field("last_error", delivery.lastError)
        json.field("sha256", delivery.sha256)
        json.field("url", delivery.url)
      }
    }
    json.field("expires_at", expiresAt.rfc3339Milliseconds)
    json.field("partner", partner)
    json.field("parts", parts)
    json.object("request") { json in
      json.field("bom", request.bom)
      json.field("columns", request.columns)
      json.field("delimiter", request.delimiter)
      json.field("dialect", request.dialect)
      json.field("file", request.file)
      json.field("filter", request.filter)
      json.field("format", request.format)
      json.field("idempotency_key", request.idempotencyKey)
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
    json.field("rows", rows)
    json.field("schedule", schedule)
    json.field("sha256", sha256)
    if let webhook {
      json.object("webhook") { json in
        json.field("attempts", webhook.attempts)
        json.field("delivered_at", webhook.deliveredAt?.rfc3339Milliseconds)
        json.field("gave_up", webhook.gaveUp)
        json.field("last_error", webhook.lastError)
      }
    }
    if let window {
      json.object("window") { json in
        json.field("field", window.field)
        json.field("from", window.from)
        json.field("to", window.to)
      }
    }
  }
}
