import JobdropSystem

/// A successful export on its way into its partner's storage: the files to push (a split export's parts,
/// then its manifest), which of them arrived, and the attempts so far. Kept as
/// `spool/deliveries/<id>.json` until every file arrived or it is given up (24 h), so a restart goes on
/// with it (at least once: the receiver can tell a repeat by its name and sha256).
public struct FileDelivery: Codable, Sendable, Equatable {
  /// `dlv_<job id>`.
  public var id: String
  public var jobID: String
  public var partner: String?
  /// Names in `files/<job id>/`, in the order they are pushed.
  public var files: [String]
  /// How many of `files` have arrived.
  public var delivered: Int
  public var createdAt: Timestamp
  public var attempts: Int
  public var nextAttemptAt: Timestamp
  public var lastError: String?

  public init(jobID: String, partner: String?, files: [String], now: Timestamp) {
    id = "dlv_" + jobID
    self.jobID = jobID
    self.partner = partner
    self.files = files
    delivered = 0
    createdAt = now
    attempts = 0
    nextAttemptAt = now
  }
}

/// What a job's document says of its delivery (`meta.delivery`).
public struct DeliveryStatus: Codable, Sendable, Equatable {
  public var deliveredAt: Timestamp?
  /// Where the last file went (`sftp://…/name`, `s3://…/name`) and its SHA-256 as sent.
  public var url: String?
  public var sha256: String?
  public var attempts: Int
  public var lastError: String?
  public var gaveUp: Bool?

  public init(
    deliveredAt: Timestamp? = nil, url: String? = nil, sha256: String? = nil, attempts: Int = 0,
    lastError: String? = nil, gaveUp: Bool? = nil
  ) {
    self.deliveredAt = deliveredAt
    self.url = url
    self.sha256 = sha256
    self.attempts = attempts
    self.lastError = lastError
    self.gaveUp = gaveUp
  }
}
