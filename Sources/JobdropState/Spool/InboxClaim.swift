import JobdropSystem

/// Which inbox file a job was claimed from, kept in its record: the file stays in the inbox for a grace
/// time after the claim (a client may look at its upload), and is deleted afterwards only if it is still
/// this file with this content; anything else under the name is a new upload.
public struct InboxClaim: Codable, Sendable, Equatable {
  /// The job the file became.
  public var jobID: String
  /// The name in the inbox, as raw bytes.
  public var name: [UInt8]
  /// The file (device and inode) that was read.
  public var identity: FileIdentity
  /// The SHA-256 of the bytes that were read and kept; `nil` for a file the service could not read.
  public var sha256: String?
  /// With a shared spool: the node whose inbox it is (only that node takes it away).
  public var node: String?

  public init(jobID: String, name: FileName, identity: FileIdentity, sha256: String?, node: String? = nil) {
    self.jobID = jobID
    self.name = name.bytes
    self.identity = identity
    self.sha256 = sha256
    self.node = node
  }

  /// The name in the inbox.
  public var fileName: FileName { FileName(bytes: name) }
}
