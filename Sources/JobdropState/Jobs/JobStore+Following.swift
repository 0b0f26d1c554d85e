import JobdropSystem

/// With several nodes (a shared ``JobBackend``): the table here follows the other nodes' changes, and
/// one node at a time renders the index. On one machine there is nothing to follow.
extension JobStore {
  /// Applies the other nodes' changes since the last ones applied (claims, moves, leases reaped): the
  /// table and the queues follow them and, on the node that renders the index, the documents. Returns
  /// whether a job became pending (runners should look).
  @discardableResult
  public func follow() throws -> Bool {
    var pendingSeen = false
    while true {
      let (jobs, cancelled) = try backend.changes()
      let (stop, handler) = lock.withLock {
        for job in jobs {
          if job.state == .pending { pendingSeen = true }
          reconcileLocked(job)
        }
        // A cancel another node took for a job running here: its query is interrupted now, and its
        // outcome recorded as cancelled (``JobTransitions/resolve(_:to:record:)``).
        let stop = cancelled.filter {
          table.jobs[$0]?.state == .started && !table.cancelRequested.contains($0)
        }
        for id in stop {
          guard var marked = table.jobs[id] else { continue }
          marked.record.cancelRequested = true
          table.cancelled(marked)
        }
        return (stop, cancelHandler)
      }
      for id in stop { handler?(id) }
      if jobs.isEmpty { return pendingSeen }
    }
  }

  /// Takes the index lock when no other node holds it: only its holder renders the index
  /// (``publishIndex(force:)``) and keeps every job's documents (the others keep their own jobs'). A node
  /// that becomes the holder first publishes every job's documents as the table has them, then renders
  /// every site. Returns whether this node renders the index now (always, on one machine).
  @discardableResult
  public func checkIndexLock() throws -> Bool {
    guard backend.holdsIndexLock() else {
      lock.withLock { rendersIndex = false }
      return false
    }
    if lock.withLock({ rendersIndex }) { return true }
    try backend.everyJob { job in lock.withLock { reconcileLocked(job, publish: true, pageRow: false) } }
    lock.withLock {
      logger.info("this node renders the index now")
      rendersIndex = true
      for (partner, _) in sites.opened { index.markDirty(partner) }
    }
    return true
  }

  /// Sends back to `pending` the jobs whose node died (their lease lapsed); returns how many.
  @discardableResult
  public func reapLapsedLeases() throws -> Int {
    let reaped = try backend.reapLapsedLeases(now: clock.now())
    for job in reaped {
      logger.notice("a node's lease on the job lapsed; it will run again", metadata: ["job.id": "\(job.id)"])
    }
    lock.withLock { for job in reaped { reconcileLocked(job) } }
    return reaped.count
  }

  /// Puts a job as another node wrote it into this table (``JobTable/reconcile(_:)``). `publish`: whether
  /// to publish its documents (`nil`: if this node renders the index; the others keep their own jobs'
  /// documents, written as they change them). `pageRow`: whether to make its row of the job page now
  /// (off for every job at once: a render makes the newest rows it needs).
  func reconcileLocked(_ job: Job, publish: Bool? = nil, pageRow: Bool = true) {
    guard table.reconcile(job), publish ?? rendersIndex else { return }
    publishLocked(job, unlessUnchanged: true, pageRow: pageRow)
    index.markDirty(job.record.partner)
  }
}
