import JobdropModel
import JobdropSystem
import Logging

/// What a start does before any request is taken: every job is read back from the backend (a crash's
/// half-done moves undone, this node's jobs left `started` sent back to `pending`, or to `failed` when
/// their partner had cancelled them), the temp files a killed process left in the outbox removed,
/// damaged records rebuilt under their own ids (``DamagedJobRepair``), and the claimed inbox files
/// whose grace time a stop cut short taken away.
struct JobRecovery {
  let backend: any JobBackend
  /// This node's own spool (claimed inbox files are retired through it).
  let spool: Spool
  let sites: OutboxSites
  /// The drop folders read, by partner (`nil`: the inbox itself).
  let folders: [String?: Inbox]
  let parser: RequestParser?
  let clock: ServiceClock
  let logger: Logger

  /// Runs the recovery, handing every job (in its recovered state) to `table`.
  func run(_ lock: SpoolLock, inbox: Inbox, table: (Job) -> Void) throws {
    var tidied = Set<String?>()
    for (partner, site) in sites.opened {
      tidied.insert(partner)
      tidy(site)
    }
    // Claimed files a stopped process left in the inbox, with the newest job claimed from each name.
    let present = folders.mapValues { Set((try? $0.requestNames()) ?? []) }
    var claims: [String?: [FileName: (created: Timestamp, claim: InboxClaim)]] = [:]
    func each(_ job: Job, cutShort: Bool) {
      if job.state != .failed || cutShort {
        do {
          let site = try sites.site(for: job)
          if tidied.insert(job.record.partner).inserted { tidy(site) }
          tidy(site, job: job.id)
        } catch {
          logger.warning("cannot tidy the outbox; going on", metadata: ["error": "\(error)"])
        }
      }
      if cutShort {
        logger.notice(
          job.state == .failed
            ? "job was cancelled by its partner before a stop; it is not run again"
            : "job was cut short; it will run again", metadata: ["job.id": "\(job.id)"])
      }
      // (With several nodes, only the claims this node made from its own inbox.)
      if let claim = job.record.inboxClaim, claim.node == backend.node,
        present[job.record.partner]?.contains(claim.fileName) == true,
        (claims[job.record.partner]?[claim.fileName]?.created).map({ $0 < job.record.createdAt }) ?? true
      {
        claims[job.record.partner, default: [:]][claim.fileName] = (job.record.createdAt, claim)
      }
      table(job)
    }
    let recovery = try backend.recover(lock, inbox: inbox, now: clock.now()) { each($0, cutShort: $1) }
    let repair = DamagedJobRepair(
      spool: spool, sites: sites, folders: folders, parser: parser, logger: logger)
    for damaged in recovery.damaged {
      logger.error(
        "status file damaged; moved to the spool's damaged/ folder",
        metadata: ["file": "\(damaged.path)", "error": "\(damaged.reason)"])
      guard let job = try repair.repair(damaged, now: clock.now()) else {
        logger.error(
          "the damaged job's request and documents are gone; nothing is left to rebuild",
          metadata: ["job.id": "\(damaged.id)"])
        continue
      }
      logger.notice(
        job.state == .pending
          ? "the damaged job was rebuilt from its request; it runs again under its id"
          : "the damaged job was rebuilt as failed",
        metadata: ["job.id": "\(job.id)", "job.status": "\(job.state.rawValue)"])
      each(job, cutShort: false)
      CrashPoint.reached("recovery-repaired")
    }
    for id in recovery.requestsRestored {
      logger.error(
        "the job's request copy was missing from the spool; written anew from its status file",
        metadata: ["job.id": "\(id)"])
    }
    for name in recovery.returned {
      logger.notice(
        "a file left in the spool's retiring/ folder was put back into the inbox",
        metadata: ["request.file": "\(name.display)"])
    }
    for (partner, folder) in folders {
      for (name, claim) in claims[partner] ?? [:] {
        if case .newUpload(let kept) = spool.retire(name, from: folder.directory, as: claim.claim) {
          logger.info(
            "a new upload under a claimed name is left to be claimed",
            metadata: ["request.file": "\(kept.display)"])
        }
        CrashPoint.reached("recovery-retired")
      }
    }
  }

  /// Removes the temp files a killed process left in `site` (in job `id`'s folders, with an id); a site
  /// that cannot be tidied now is left as it is.
  private func tidy(_ site: Outbox, job id: String? = nil) {
    do {
      if let id { try site.removeTemporaryFiles(job: id) } else { try site.removeTemporaryFiles() }
    } catch {
      logger.warning("cannot tidy the outbox; going on", metadata: ["error": "\(error)"])
    }
  }
}
