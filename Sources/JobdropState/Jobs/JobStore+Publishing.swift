import JobdropModel
import JobdropSystem

/// A job's documents in the outbox: written in the order they were prepared, never stopping a job when
/// the outbox cannot take them (they are retried).
extension JobStore {
  /// Publishes a job's documents (inside ``withLockPublishingAfter(_:beforeWriting:)``: once the lock is
  /// released); one that cannot be written now is remembered and retried by ``republish()``, so a full
  /// outbox delays the documents but never stops a job or the daemon. Call with the lock held.
  func publishLocked(_ job: Job, unlessUnchanged: Bool = false, pageRow: Bool = true) {
    do {
      let publication = try sites.site(for: job).prepare(
        job, unlessUnchanged: unlessUnchanged, pageRow: pageRow)
      if deferredPublications != nil {
        deferredPublications?.append(publication)
      } else {
        try outboxWrites.withLock { try publication.site.write(publication) }
      }
      table.unpublished.remove(job.id)
    } catch {
      unpublishedLocked(job.id, error)
    }
  }

  /// Remembers a job whose documents could not be written, for ``republish()``.
  private func unpublishedLocked(_ id: String, _ error: any Error) {
    if table.unpublished.insert(id).inserted {
      logger.warning(
        "cannot publish the job's documents; will retry", metadata: ["job.id": "\(id)", "error": "\(error)"])
    }
  }

  /// Runs `body` under the lock, and writes the documents it publishes after releasing it (in order,
  /// before any later write of the outbox): a burst's commits then hold the lock only for the table,
  /// and the runner and the intake are not kept waiting while documents are written. `beforeWriting` runs
  /// once the lock is released, before the first document is written.
  func withLockPublishingAfter<T>(_ body: () -> T, beforeWriting: () -> Void = {}) -> T {
    let (value, failed) = lock.withLock(
      { () -> (T, [Outbox.Publication]) in
        deferredPublications = []
        let value = body()
        let publications = deferredPublications ?? []
        deferredPublications = nil
        return (value, publications)
      }, handingOverTo: outboxWrites
    ) { value, publications in
      beforeWriting()
      var failed: [(id: String, error: any Error)] = []
      for publication in publications {
        do {
          try publication.site.write(publication)
        } catch {
          failed.append((publication.id, error))
        }
      }
      return (value, failed)
    }
    if !failed.isEmpty { lock.withLock { for (id, error) in failed { unpublishedLocked(id, error) } } }
    return value
  }

  /// Retries the documents (and the sites' error documents) that could not be written; returns how many
  /// still wait.
  @discardableResult
  public func republish() -> Int {
    let sitesWaiting = sites.writeMissingErrorDocuments()
    return sitesWaiting
      + lock.withLock {
        for id in table.unpublished {
          guard let job = lookupLocked(id) else {
            table.unpublished.remove(id)
            continue
          }
          publishLocked(job)
          index.markDirty(job.record.partner)
        }
        return table.unpublished.count
      }
  }

  /// Writes `partner`'s `requests/<name>` for a cancel request (see ``Outbox/publishCancel(requestFile:jobID:result:)``).
  public func publishCancel(partner: String?, requestFile name: String, jobID: String, result: CancelResult)
    throws
  {
    try lock.withLock {
      try outboxWrites.withLock {
        try sites.open(partner: partner).publishCancel(
          requestFile: name, jobID: jobID, result: result.rawValue)
      }
    }
  }

  /// Publishes `partner`'s schedules (``Schedules``): `schedules.json`, `schedules/<id>.json`, and the
  /// `requests/<name>` of each one's file.
  /// `changed`: the schedules whose own documents are written (`nil`: all, and those of ended ones removed).
  public func publishSchedules(
    _ schedules: [(ScheduleRecord, ExportRequest)], changed: Set<String>?, partner: String?
  ) throws {
    try lock.withLock {
      try outboxWrites.withLock {
        try sites.open(partner: partner).publishSchedules(
          schedules.map { (record: $0.0, request: $0.1) }, changed: changed)
      }
      index.markDirty(partner)  // the job page shows them
    }
  }

  /// Removes an ended schedule's `requests/<name>` document.
  public func withdrawSchedule(_ record: ScheduleRecord) throws {
    try lock.withLock {
      try outboxWrites.withLock { try sites.open(partner: record.partner).withdrawSchedule(record) }
    }
  }
}
