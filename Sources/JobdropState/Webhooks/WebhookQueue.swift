import JobdropSystem

/// The deliveries not yet made, each a file in the spool's `webhooks/` folder, written like every spool
/// file (temp file, fsync, rename, folder fsync): a delivery on disk survives a crash, and a restart sends
/// it (at least once; receivers dedupe by `webhook-id`).
///
/// A delivery is written *before* its job's move to `success` or `failed`; at start, one whose job did
/// not reach that state (a crash between the two) is removed, so an event is never sent for a move that
/// did not happen and never lost for one that did.
// @unchecked: immutable (a folder handle); the file system serialises the rest: nothing to lock.
public final class WebhookQueue: @unchecked Sendable {
  let folder: DirectoryHandle

  /// Opens (creating) `spool/webhooks/`.
  public init(spool: Spool) throws(FileSystemError) {
    folder = try spool.root.subdirectory("webhooks", create: true, mode: 0o700)
  }

  /// Writes (or replaces) `delivery`'s file durably.
  public func save(_ delivery: WebhookDelivery) throws {
    try AtomicWriter.write(
      delivery.json, to: FileName("\(delivery.id).json"), in: folder, syncDirectory: true)
  }

  /// Removes `delivery`'s file (it was made or given up).
  public func remove(_ id: String) throws(FileSystemError) {
    try folder.remove(FileName("\(id).json"))
    try folder.sync()
  }

  /// Every delivery on disk; temp files a crash left and files that cannot be read are removed.
  public func load() -> (deliveries: [WebhookDelivery], damaged: [String]) {
    let (items, damaged) = SpoolItems.load(WebhookDelivery.self, from: folder, limit: 16 << 20)
    return (items, damaged)
  }
}
