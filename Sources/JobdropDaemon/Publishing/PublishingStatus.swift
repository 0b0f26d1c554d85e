import FoundationEssentials
import JobdropSystem

/// Where publishing to object storage stands, as the daemon last wrote it into the spool
/// (`publishing.json`, rewritten as it changes: at once when the queue drains or an error comes or goes,
/// else at most twice a second), for `jobdrop status`.
public struct PublishingStatus: Codable, Sendable, Equatable {
  /// The `s3://` URL published to.
  public var target: String
  /// Outbox files changed and not yet in the bucket (put or deleted).
  public var waiting: Int
  /// Objects put or deleted since the process started.
  public var published: Int
  /// Whether the start-up comparison of the bucket with the outbox is done.
  public var resynced: Bool
  /// Why the last attempt failed, while attempts fail.
  public var lastError: String?
  public var updatedAt: String

  enum CodingKeys: String, CodingKey {
    case target, waiting, published, resynced
    case lastError = "last_error"
    case updatedAt = "updated_at"
  }

  /// The file's name in the spool folder.
  public static let fileName = FileName("publishing.json")

  /// Reads the status from the spool folder at `spool`, if there is one.
  public static func read(spool: String) -> PublishingStatus? {
    guard let bytes = try? FileReader.read(path: "\(spool)/\(fileName.display)", limit: 1 << 16) else {
      return nil
    }
    return try? JSONDecoder().decode(PublishingStatus.self, from: Data(bytes))
  }

  /// One line for `jobdrop status`.
  public var summary: String {
    var line = "publishing to \(target): "
    line += waiting == 0 ? "everything published" : "\(waiting) file\(waiting == 1 ? "" : "s") waiting"
    if !resynced { line += " (comparing the bucket with the outbox)" }
    if let lastError { line += "; last error: \(lastError)" }
    return line + " (as of \(updatedAt))"
  }
}
