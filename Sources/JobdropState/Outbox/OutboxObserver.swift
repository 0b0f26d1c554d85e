/// Told of every file a site writes into the outbox or removes from it, in the order it happens (an
/// export file before the documents that point to it, documents before the index): what mirrors the
/// outbox elsewhere (`--publish s3://…`) follows it.
///
/// Called on the thread that changed the file, often with the job store's lock held: it must be quick
/// and must not call back into the store.
public protocol OutboxObserver: AnyObject, Sendable {
  /// `path` (relative to the outbox folder, such as `acme/jobs/<id>.json`) was written or removed.
  func outboxChanged(_ path: String)

  /// Waits until what `path` holds now has reached where it is mirrored, while `keepWaiting` says so;
  /// returns whether it has. Called without the job store's lock.
  func waitUntilPublished(_ path: String, while keepWaiting: () -> Bool) -> Bool
}
