import JobdropSystem

/// Claims: a request becomes a job, alone or in a group made durable together.
extension JobStore {
  /// Makes `record` a new job in `state` (`pending`, or `failed` with the record's error), keeping `bytes`
  /// as its request. With a shared table, `limit` (its partner's) is checked again by the claim itself,
  /// across every node: a pending claim past it is made `failed`.
  @discardableResult
  public func claim(
    _ record: JobRecord, state: JobState, bytes: [UInt8], limit: PostgresSpool.PartnerLimit? = nil
  ) throws -> Job {
    var record = record
    // A refused request is a failed job: its event is saved before the claim that makes it one.
    let delivery = try events.prepare(&record, to: state)
    // The backend's writes are the new job's own: only the table and the outbox need the lock.
    let made: Job
    do {
      made = try backend.claim(.init(record: record, state: state, bytes: bytes, limit: limit))
    } catch {
      events.drop([delivery])
      throw error
    }
    let (job, refused) = lock.withLock {
      let job = Job(record: made.record, state: made.state)
      table.add(job)
      if job.state.isFinal { metrics.finished(job) }  // a request refused at its drop
      publishLocked(job)
      index.markDirty(job.record.partner)
      return (
        job, delivery == nil && made.state == .failed && state == .pending ? refusedByLimitLocked(job) : nil
      )
    }
    events.announce([delivery ?? refused])
    return job
  }

  /// Takes a request into `group` (see ``ClaimGroup``): its files are written as temp files and the job
  /// counts at once for ``activeCount(partner:)`` and ``keyedJob(partner:idempotencyKey:)``, but it is
  /// queued and published only by ``commitClaims(_:whenQueued:)``.
  @discardableResult
  public func stageClaim(
    _ record: JobRecord, state: JobState, bytes: [UInt8], limit: PostgresSpool.PartnerLimit? = nil,
    into group: ClaimGroup
  ) throws -> Job {
    var record = record
    let delivery = try events.prepare(&record, to: state)
    do {
      try backend.stage(.init(record: record, state: state, bytes: bytes, limit: limit), into: group)
    } catch {
      events.drop([delivery])
      throw error
    }
    let job = Job(record: record, state: state)
    lock.withLock { table.stage(job) }
    group.jobs.append((job, delivery))
    return job
  }

  /// Makes a group's claims durable together, then queues and publishes them. On a failure every claim
  /// of the group is undone (what it wrote removed, the table as before) and the error thrown: the
  /// requests are still in the inbox.
  ///
  /// `whenQueued` is called once the jobs are queued, before their documents are written (a runner woken
  /// then starts the first job while they are written: their order in the outbox is kept, see
  /// ``withLockPublishingAfter(_:beforeWriting:)``); not called when the commit fails.
  public func commitClaims(_ group: ClaimGroup, whenQueued: () -> Void = {}) throws {
    guard !group.isEmpty else { return }
    defer { group.clear() }
    let made: [String: Job]
    do {
      made = try backend.commitClaims(group)
    } catch {
      backend.discardClaims(group)
      lock.withLock { for (job, _) in group.jobs { table.unstage(job) } }
      events.drop(group.jobs.map(\.delivery))
      throw error
    }
    let refused = withLockPublishingAfter {
      var refused: [WebhookDelivery] = []
      for (staged, _) in group.jobs {
        // Another node, or this node's follower, may have moved it on already: it never goes back.
        if let state = table.summaries[staged.id]?.state, state > staged.state { continue }
        var job = table.jobs[staged.id] ?? staged
        if let made = made[staged.id], made.state == .failed, job.state == .pending {
          // Past its partner's limit, counted across every node by the claim itself.
          job.state = .failed
          job.record.error = made.record.error
          table.refusedAtClaim(job)
          if let delivery = refusedByLimitLocked(job) {
            refused.append(delivery)
            continue
          }
        }
        if job.record.requestAliases != staged.record.requestAliases {
          // Aliases added while it was staged: the commit put the staged record in place.
          saveLocked(job, what: "a request's alias")
        }
        table.committed(job)
        if job.state.isFinal { metrics.finished(job) }
        publishLocked(job)
        index.markDirty(job.record.partner)
      }
      return refused
    } beforeWriting: {
      whenQueued()
    }
    events.announce(group.jobs.map(\.delivery))
    events.announce(refused)
  }

  /// The webhook event of a claim the shared table refused past its partner's limit (after the claim:
  /// the request looked acceptable here), saved and its job's record updated; call with the lock held.
  private func refusedByLimitLocked(_ job: Job) -> WebhookDelivery? {
    logger.info(
      "request refused by the shared spool: its partner's limit was reached on another node",
      metadata: ["job.id": "\(job.id)", "error": "\(job.record.error ?? "")"])
    var refused = job
    guard let delivery = try? events.prepare(&refused.record, to: .failed) else { return nil }
    saveLocked(refused, what: "the webhook's status")
    table.store(refused)
    publishLocked(refused)
    index.markDirty(refused.record.partner)
    return delivery
  }
}
