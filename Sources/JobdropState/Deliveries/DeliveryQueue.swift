import FoundationEssentials
import JobdropSystem

/// The deliveries not yet made, each a file in the spool's `deliveries/` folder, written durably
/// (temp file, fsync, rename, folder fsync) before the job's `success` is recorded; at start one whose
/// job is not in `success` (a crash between the two, a cancel that won) is removed.
// @unchecked: immutable (a folder handle); the file system serialises the rest.
public final class DeliveryQueue: @unchecked Sendable {
  let folder: DirectoryHandle
  private static let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return encoder
  }()

  /// Where files are encrypted before they leave, and gpg's empty keyring home (`deliveries/work/`).
  public let workPath: String

  /// Opens (creating) `spool/deliveries/` and its `work/` folder.
  public init(spool: Spool) throws(FileSystemError) {
    folder = try spool.root.subdirectory("deliveries", create: true, mode: 0o700)
    _ = try folder.subdirectory("work", create: true, mode: 0o700)
    workPath = folder.path + "/work"
  }

  public func save(_ delivery: FileDelivery) throws {
    let bytes = try DeliveryQueue.encoder.encode(delivery)
    try AtomicWriter.write(Array(bytes), to: FileName("\(delivery.id).json"), in: folder, syncDirectory: true)
  }

  public func remove(_ id: String) {
    try? folder.remove(FileName("\(id).json"))
    try? folder.sync()
  }

  /// Every delivery on disk; temp files and files that cannot be read are removed (and named).
  public func load() -> (deliveries: [FileDelivery], damaged: [String]) {
    let (items, damaged) = SpoolItems.load(
      FileDelivery.self, from: folder, limit: 1 << 20, skipping: ["work"])
    return (items, damaged)
  }
}
