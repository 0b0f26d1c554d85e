import JobdropSystem

/// Moves: a job starts, ends, or goes back to wait, alone or in a group of outcomes made durable
/// together. Every move passes ``JobTransitions/resolve(_:to:record:)`` first.
extension JobStore {
  /// Takes the pending job to run next, if any, and moves it to `started` (one attempt more).
  ///
  /// With `durable` off (a job run inside a group commit) the job is started in memory only: nothing is
  /// written or published. Its `started` is written and shown at its first progress update
  /// (``update(_:)``, or the committer's confirmation after ``OutcomeCommitter/confirmMilliseconds``),
  /// and a job that ends sooner goes from `pending` to its outcome at the group's commit. (A process
  /// killed before then leaves it `pending`, one attempt fewer: recovery would have sent a `started`
  /// job back to `pending` anyway.)
  public func startNextPending(durable: Bool = true) throws -> Job? {
    let now = clock.now()
    func started(_ pending: JobRecord) -> JobRecord {
      var record = pending
      record.attempts += 1
      record.rows = 0
      record.retryAt = nil
      record.updatedAt = now
      return record
    }
    if backend.picksNextJob {
      guard let next = try backend.claimNext(now: now, durable: durable, modify: started) else { return nil }
      // As a start inside a group: shown at its first progress write, and a job that ends sooner goes
      // from `pending` to its outcome in its documents.
      lock.withLock {
        reconcileLocked(next, publish: durable ? nil : false)
        table.runningHere.insert(next.id)
      }
      return next
    }
    return try lock.withLock {
      let (taken, unreadable) = table.nextPending(now: now) { [backend] in
        backend.job(id: $0, state: .pending)
      }
      for id in unreadable {
        // Its status file cannot be read now (an I/O error): it stays pending and is tried again soon.
        logger.warning("cannot read a pending job's status file; will retry", metadata: ["job.id": "\(id)"])
      }
      guard let next = taken else { return nil }
      do {
        return try moveLocked(next, to: .started, record: started(next.record), durable: durable)
      } catch {
        table.requeue(next)  // still pending: taken again once the spool can be written
        throw error
      }
    }
  }

  /// Moves a job to `target` with `record` (durably), then publishes it.
  @discardableResult
  public func move(_ job: Job, to target: JobState, record: JobRecord) throws -> Job {
    try lock.withLock { try moveLocked(job, to: target, record: record) }
  }

  func moveLocked(_ job: Job, to target: JobState, record: JobRecord, durable: Bool = true) throws -> Job {
    let ((job, target, record), delivery) = try prepareLocked((job, target, record))
    let moved: Job
    do {
      moved = try backend.move(job, to: target, record: record, durable: durable)
    } catch {
      events.drop([delivery])
      throw error
    }
    guard durable else {
      table.store(moved)  // published once durable
      return moved
    }
    return appliedLocked(from: job, to: moved, delivery: delivery)
  }

  /// Makes the outcomes of a group of jobs durable together, then publishes them; `alsoFlush` holds
  /// their export files, published without a sync. Each record keeps the request aliases the intake
  /// added meanwhile.
  ///
  /// The outcomes are written without the lock (only the committer moves a staged job; an alias added
  /// meanwhile is saved again after), and the documents after it. While they are written the jobs are
  /// marked ``JobTable/committing``: a cancel or an alias for one of them waits for the commit, so a
  /// partner is never told `cancelled` for a job that succeeded.
  @discardableResult
  public func commitMoves(
    _ moves: [(job: Job, target: JobState, record: JobRecord)], alsoFlush: [UnsyncedFile]
  ) throws -> [Job] {
    let (prepared, deliveries) = try lock.withLock {
      let ready = try prepareAllLocked(moves)
      table.committing.formUnion(ready.0.map(\.job.id))
      return ready
    }
    let result = Result { try backend.commitMoves(prepared, alsoFlush: alsoFlush) }
    defer { lock.broadcast() }  // (after the lock is released: broadcasting takes it)
    return try withLockPublishingAfter {
      table.committing.subtract(prepared.map(\.job.id))
      return result.map { appliedLocked(prepared, $0, deliveries) }.mapError { error in
        events.drop(deliveries)
        return error
      }
    }.get()
  }

  /// Waits (releasing the lock) while job `id`'s outcome is being committed; call with the lock held.
  func waitForCommitLocked(_ id: String) {
    while table.committing.contains(id) { lock.wait(untilMilliseconds: nil) }
  }

  /// A move as it will be stored: the cancel rule applied (a success that became a cancel has its file
  /// withdrawn once recorded), `updated_at` set, the aliases added meanwhile kept, its webhook event saved.
  private func prepareLocked(_ move: (job: Job, target: JobState, record: JobRecord)) throws -> (
    (job: Job, target: JobState, record: JobRecord), WebhookDelivery?
  ) {
    var record = move.record
    record.updatedAt = clock.now()
    let stored = table.jobs[move.job.id]
    if let stored { record.requestAliases = stored.record.requestAliases }
    let (target, resolved) = JobTransitions.resolve(stored ?? move.job, to: move.target, record: record)
    if move.target == .success && target == .failed, let name = record.fileName {
      table.withdrawals[move.job.id] = name
    }
    record = resolved
    let delivery = try events.prepare(&record, from: move.job.state, to: target)
    return ((move.job, target, record), delivery)
  }

  /// The moves of a group as they will be stored, with their webhook events saved.
  private func prepareAllLocked(_ moves: [(job: Job, target: JobState, record: JobRecord)]) throws -> (
    [(job: Job, target: JobState, record: JobRecord)], [WebhookDelivery?]
  ) {
    var prepared: [(job: Job, target: JobState, record: JobRecord)] = []
    var deliveries: [WebhookDelivery?] = []
    do {
      for move in moves {
        let (ready, delivery) = try prepareLocked(move)
        prepared.append(ready)
        deliveries.append(delivery)
      }
    } catch {
      events.drop(deliveries)
      throw error
    }
    return (prepared, deliveries)
  }

  /// The table, the queues and the outbox after a group's moves (`nil`: a lease lost); call with the
  /// lock held.
  private func appliedLocked(
    _ prepared: [(job: Job, target: JobState, record: JobRecord)], _ moved: [Job?],
    _ deliveries: [WebhookDelivery?]
  ) -> [Job] {
    zip(moved.indices, moved).map { index, job in
      let before = prepared[index].job
      guard var job else {
        // This node lost the job's lease: another node runs it; this outcome is not recorded.
        logger.warning("job's lease lost; another node runs it", metadata: ["job.id": "\(before.id)"])
        events.drop([deliveries[index]])
        table.withdrawals[before.id] = nil
        table.leaseLost.insert(before.id)
        return before
      }
      if let stored = table.jobs[job.id], stored.record.requestAliases != job.record.requestAliases {
        // The intake added an alias while the group was written (into the old state's record).
        job.record.requestAliases = stored.record.requestAliases
        saveLocked(job, what: "a request's alias")
        backend.retire(job.id, from: before.state)
      }
      return appliedLocked(from: before, to: job, delivery: deliveries[index])
    }
  }

  /// The table, the queues and the outbox after a durable move; call with the lock held.
  private func appliedLocked(from job: Job, to moved: Job, delivery: WebhookDelivery?) -> Job {
    if let name = table.withdrawals.removeValue(forKey: moved.id), let site = try? sites.site(for: moved) {
      site.withdrawExport(id: moved.id, name: name)
      logger.notice(
        "job cancelled by its partner as it finished; its file is withdrawn",
        metadata: ["job.id": "\(moved.id)"])
    }
    events.announce([delivery])
    table.moved(from: job, to: moved)
    publishLocked(moved)
    index.markDirty(moved.record.partner)
    if moved.state.isFinal && !job.state.isFinal {
      metrics.finished(moved)
      if moved.record.scheduleID != nil { runFinishedHandler?() }
    }
    return moved
  }
}
