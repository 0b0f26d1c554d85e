import JobdropSystem

/// One event on its way to a webhook: the body is fixed when the job finishes, and every attempt signs
/// it anew with the time of that attempt (Standard Webhooks). Kept as `spool/webhooks/<id>.json` until it
/// is delivered or given up.
public struct WebhookDelivery: Codable, Sendable, Equatable {
  /// `webhook-id`: `msg_<job id>`, the same for every attempt (receivers dedupe by it).
  public var id: String
  public var jobID: String
  /// The partner whose webhook it goes to (`nil`: `--webhook-url`).
  public var partner: String?
  /// `job.success` or `job.failed`.
  public var type: String
  /// `{"type": …, "timestamp": …, "data": Job}` as sent.
  public var body: String
  public var createdAt: Timestamp
  public var attempts: Int
  public var nextAttemptAt: Timestamp
  public var lastError: String?

  /// The delays after the first attempts, in seconds; after the last, hourly.
  public static let delays: [Int64] = [5, 30, 120, 600, 3_600]
  /// How long a delivery is tried: 24 hours after the job finished.
  public static let lifetimeSeconds: Int64 = 86_400

  /// The event of `job`, which has just reached `success` or `failed`, with `document` its job JSON.
  public init(job: Job, document: [UInt8], now: Timestamp = .now()) {
    id = WebhookDelivery.id(of: job.id)
    jobID = job.id
    partner = job.record.partner
    type = "job.\(job.state.rawValue)"
    body =
      #"{"type":"\#(type)","timestamp":"\#(now.rfc3339)","data":"# + String(decoding: document, as: UTF8.self)
      + "}"
    createdAt = now
    attempts = 0
    nextAttemptAt = now
  }

  /// The delivery id of `jobID`'s event.
  public static func id(of jobID: String) -> String { "msg_" + jobID }

  /// The wait after `attempts` failed attempts, scaled by `scale` (tests shorten it).
  public static func delay(after attempts: Int, scale: Double = 1) -> Int64 {
    let seconds = attempts <= delays.count ? delays[max(attempts - 1, 0)] : 3_600
    return max(1, Int64((Double(seconds) * 1000 * scale).rounded()))
  }
}

/// What a job's document says of its webhook (`meta.webhook`).
public struct WebhookStatus: Codable, Sendable, Equatable {
  public var deliveredAt: Timestamp?
  public var attempts: Int
  public var lastError: String?
  /// The last attempt failed and no more will be made.
  public var gaveUp: Bool?

  public init(deliveredAt: Timestamp? = nil, attempts: Int = 0, lastError: String? = nil, gaveUp: Bool? = nil)
  {
    self.deliveredAt = deliveredAt
    self.attempts = attempts
    self.lastError = lastError
    self.gaveUp = gaveUp
  }
}

extension WebhookDelivery {
  /// The delivery's file: what `JSONEncoder` with sorted keys writes for its `Codable` form
  /// (``JSONText``; the tests hold the two to the same bytes, and `JSONDecoder` reads it back).
  var json: [UInt8] {
    var json = JSONText()
    json.beginObject()
    json.field("attempts", attempts)
    json.field("body", body)
    json.field("createdAt", createdAt.rfc3339Milliseconds)
    json.field("id", id)
    json.field("jobID", jobID)
    json.field("lastError", lastError)
    json.field("nextAttemptAt", nextAttemptAt.rfc3339Milliseconds)
    json.field("partner", partner)
    json.field("type", type)
    json.endObject()
    return json.bytes
  }
}
