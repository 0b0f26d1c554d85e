import JobdropExport
import JobdropModel
import JobdropSystem
import Logging
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Runs one job: `pending → started`, streams its rows to a file in the request's format, then
/// `success` or `failed`.
///
/// The export is written under a temp name in `files/<id>/` and renamed into place only when complete.
/// While it runs, `meta.rows` is stored and published about once a second.
// @unchecked: its settings are set before the runner threads start and only read afterwards (no lock
// needed, and a Mutex would guard nothing; `let` would not let the daemon set them after the initialiser).
public final class JobRunner: @unchecked Sendable {
  /// The error of a job whose filter matched nothing (Elastic Path's words).
  public static let noResults = "No results matched the supplied filter"

  package let store: JobStore
  let catalog: Catalog
  let source: any DataSource
  let emptyOK: Bool
  let rawCSV: Bool
  /// The partners in force, with `--partners`: each job runs within its partner's scope as it is now.
  let partners: PartnerRegistry?
  let logger: Logger
  /// How often progress is published while a job runs, in milliseconds.
  public var progressInterval: Int64 = 1000
  /// The exports running now, by job id, so a partner's cancel can interrupt its query.
  private let running = RunningExports()
  /// Makes the outcomes of grouped runs durable together (``runNext(shouldStop:grouped:)``).
  public let committer: OutcomeCommitter
  /// How many times a job whose source failed transiently (connection refused or dropped) is tried
  /// again, waiting 1 s, 2 s, 4 s, … (at most 60 s) in between, before it fails.
  public var retries = 4

  public init(
    store: JobStore, catalog: Catalog, source: any DataSource, emptyOK: Bool, rawCSV: Bool,
    partners: PartnerRegistry? = nil, logger: Logger
  ) {
    self.partners = partners
    self.store = store
    self.catalog = catalog
    self.source = source
    self.emptyOK = emptyOK
    self.rawCSV = rawCSV
    self.logger = logger
    committer = OutcomeCommitter(store: store, logger: logger)
    store.onCancel { [running] id in running.cancel(id) }
  }

  /// Runs the oldest pending job; returns it in its final state, or `nil` when none was pending.
  ///
  /// `shouldStop` is asked every few thousand rows; when it says yes the export is abandoned, its temp
  /// file removed, and the job goes back to `pending` to run again later.
  ///
  /// `grouped`: the job's start is not synced and its outcome (`success` or `failed`) is handed to the
  /// ``committer``, which makes it durable with others (a group commit); the returned job is in the state
  /// it will have then. Call ``OutcomeCommitter/flush()`` to wait for that.
  @discardableResult
  public func runNext(shouldStop: @escaping () -> Bool = { false }, grouped: Bool = false) throws -> Job? {
    guard let started = try store.startNextPending(durable: !grouped) else { return nil }
    if grouped {
      do {
        try committer.started(started)
      } catch {
        // Outcomes can no longer be recorded: the job goes back as it came, and the runner stops.
        _ = try? settle(started, to: .pending, record: started.record, shouldStop: { true })
        throw error
      }
    }
    return try finish(started, shouldStop: shouldStop, grouped: grouped)
  }

  private func finish(_ started: Job, shouldStop: @escaping () -> Bool, grouped: Bool) throws -> Job {
    var logger = logger
    logger[metadataKey: "job.id"] = "\(started.id)"
    logger[metadataKey: "job.type"] = "\(started.record.jobType)"
    logger.info("job started", metadata: ["job.attempt": "\(started.record.attempts)"])
    let clock = ContinuousClock.now
    var current = started
    do {
      let result = try export(started, shouldStop: shouldStop, grouped: grouped) { rows in
        if shouldStop() { throw Interrupted() }
        if self.store.isCancelRequested(started.id) { throw Cancelled() }
        if self.store.hasLostLease(started.id) { throw Interrupted() }
        current.record.rows = rows
        try? self.store.update(current)
      }
      var record = store.job(id: started.id)?.record ?? started.record
      record.rows = result.rows
      record.bytes = result.bytes
      record.sha256 = result.sha256
      record.fileName = result.fileName
      record.parts = result.parts
      record.error = nil
      // The delivery is in the spool before the success is recorded; it is handed on once it is.
      let delivery = try queueDelivery(of: started, result: result)
      if delivery != nil { record.delivery = DeliveryStatus() }
      let deliver = deliveries?.add
      let succeeded = logger
      let duration = ContinuousClock.now - clock
      let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
      store.metrics.exported(
        partner: started.record.partner, seconds: seconds, rows: result.rows, bytes: result.bytes)
      // Said once the success is recorded: a node that lost the job's lease meanwhile does not say it.
      return try conclude(started, to: .success, record: record, grouped: grouped, shouldStop: shouldStop) {
        succeeded.info(
          "job succeeded",
          metadata: [
            "job.rows": "\(result.rows)", "job.bytes": "\(result.bytes)", "job.duration": "\(duration)",
          ])
        if let delivery { deliver?(delivery) }
      }
    } catch let failure as JobError {
      var record = store.job(id: started.id)?.record ?? started.record
      if failure.code == .interrupted {
        record.rows = nil
        logger.notice("job cut short by shutdown; back to pending")
        committer.forget(started.id)
        return try settle(started, to: .pending, record: record, shouldStop: shouldStop)
      }
      if failure.transient && record.attempts <= retries {
        let wait = Int64(min(60, 1 << min(record.attempts - 1, 6)))
        record.rows = nil
        record.retryAt = store.clock.now().adding(seconds: wait)
        logger.warning(
          "the data source failed; the job will be tried again",
          metadata: [
            "error": "\(failure)", "error.code": "\(failure.code.rawValue)",
            "job.attempt": "\(record.attempts)",
            "retry.seconds": "\(wait)",
          ])
        committer.forget(started.id)
        return try settle(started, to: .pending, record: record, shouldStop: shouldStop)
      }
      record.error = failure.publicMessage
      record.rows = failure.rows
      if failure.transient {
        let retried = record.attempts - 1
        record.error! += "; the job was retried \(retried == 1 ? "once" : "\(retried) times")"
      }
      if failure.code == .cancelled {
        logger.notice("job cancelled by its partner; its file is not published")
      } else {
        // The partner reads the public message; the log also gets the cause, whole.
        let level: Logger.Level = failure.code == .internalError ? .error : .warning
        logger.log(
          level: level, "job failed",
          metadata: [
            "error": "\(record.error ?? "")", "error.code": "\(failure.code.rawValue)",
            "error.cause": "\(failure.cause.map { "\($0)" } ?? "")",
          ])
      }
      return try conclude(started, to: .failed, record: record, grouped: grouped, shouldStop: shouldStop)
    }
  }

  /// Records a finished run's outcome: handed to the committer when `grouped`, else moved now;
  /// `announce` is called once it is recorded (not when another node holds the job's lease now).
  private func conclude(
    _ job: Job, to target: JobState, record: JobRecord, grouped: Bool, shouldStop: () -> Bool,
    announce: @escaping @Sendable () -> Void = {}
  ) throws -> Job {
    guard grouped else {
      return try settle(job, to: target, record: record, shouldStop: shouldStop, announce: announce)
    }
    var export: UnsyncedFile?
    if target == .success, let site = try? store.sites.site(for: job) {
      do {
        export = try site.unsyncedExport(id: job.id, name: record.fileName ?? "")
      } catch {
        // Its folder cannot be opened now (no descriptor left): the file system is flushed instead.
        try GroupWrite.syncFileSystem(site.root)
      }
    }
    committer.stage(job, to: target, record: record, export: export, announce: announce)
    return Job(record: record, state: target)
  }

  /// Records a finished run's outcome. A spool the disk cannot write now (`ENOSPC`, `EIO`) delays the
  /// move, retried with growing waits (0.1 s to 5 s), rather than losing the outcome; at shutdown the move
  /// is given up and the job, still `started` in the spool, runs again at the next start.
  private func settle(
    _ job: Job, to target: JobState, record: JobRecord, shouldStop: () -> Bool, announce: () -> Void = {}
  ) throws -> Job {
    var wait: UInt32 = 100_000
    var warned = false
    while true {
      do {
        let moved = try store.move(job, to: target, record: record)
        announce()
        return moved
      } catch let lost as LeaseLost {
        // Another node runs it now (this one was cut off from the table longer than a lease): its outcome
        // here is not recorded, and its file is left for that node to replace.
        logger.warning("job's lease lost; another node runs it", metadata: ["error": "\(lost)"])
        return store.job(id: job.id) ?? job
      } catch  where JobStore.isTransient(error) && !shouldStop() {
        if !warned {
          logger.warning(
            "cannot record the job's outcome in the spool; retrying",
            metadata: ["job.status": "\(target.rawValue)", "error": "\(error)"])
          warned = true
        }
        usleep(wait)
        wait = min(wait * 2, 5_000_000)
      }
    }
  }

  /// Where successful exports are queued for delivery into their partners' storage (`deliver`).
  public struct DeliveryHook: Sendable {
    public var queue: DeliveryQueue
    public var wants: @Sendable (String?) -> Bool
    public var add: @Sendable (FileDelivery) -> Void

    public init(
      queue: DeliveryQueue, wants: @escaping @Sendable (String?) -> Bool,
      add: @escaping @Sendable (FileDelivery) -> Void
    ) {
      self.queue = queue
      self.wants = wants
      self.add = add
    }
  }

  /// Saves the delivery of a successful export, when its partner has `deliver`.
  private func queueDelivery(of job: Job, result: Result) throws(JobError) -> FileDelivery? {
    guard let deliveries, deliveries.wants(job.record.partner) else { return nil }
    let queued = FileDelivery(
      jobID: job.id, partner: job.record.partner, files: result.partNames + [result.fileName],
      now: store.clock.now())
    do {
      try deliveries.queue.save(queued)
    } catch {
      let reason = (error as? FileSystemError)?.reason ?? "internal error (see the service's log)"
      throw JobError(.writeFailed, "cannot queue the delivery: \(reason)", cause: error)
    }
    return queued
  }

  /// Set once at start, before any job runs.
  public var deliveries: DeliveryHook?

  /// Thrown from the progress callback to abandon an export at shutdown.
  struct Interrupted: Error {}

  /// Thrown from the progress callback to abandon an export its partner cancelled.
  struct Cancelled: Error {}

  /// The published file of a successful export.
  struct Result {
    var rows: Int
    var bytes: Int
    var sha256: String
    var fileName: String
    /// A split export's parts (its file is the manifest).
    var parts: Int? = nil
    var partNames: [String] = []
  }

  /// The scope a partner's job runs within, as the partners file in force says now; `nil` for a job of no
  /// partner. A partner no longer served, or a job type no longer enabled, fails the job.
  private func scope(of job: Job, jobType: String) throws(JobError) -> String? {
    guard let id = job.record.partner else { return nil }
    guard let partner = partners?.partner(id: id) else {
      throw JobError(.notServed, "partner '\(id)' is no longer served")
    }
    switch partner.access(to: jobType) {
    case .enabled(let scope): return scope
    case .notEnabled(let message): throw JobError(.notServed, message)
    }
  }

  /// Cuts the running exports short (inside their queries too) for a shutdown; each goes back to
  /// `pending` when its `shouldStop` says yes.
  public func interruptRunning() { source.interruptRunning() }

  /// The writer of the request's format, writing into `file` (through gzip for `.gz` formats; a
  /// workbook is built in a temp file beside it).
  private func makeWriter(for request: ExportRequest, query: ExportQuery, file: ExportFile) throws
    -> any RowWriter
  {
    let sink: any ByteSink
    if request.format.isGzipped {
      sink = GzipSink(next: file)
    } else if request.format.isZstd {
      sink = ZstdSink(next: file)
    } else {
      sink = file
    }
    switch request.format {
    case .csv, .csvGzip, .csvZstd:
      let options = request.csv ?? ExportRequest.CSVOptions()
      return CSVWriter(
        file: sink, guardFormulas: !rawCSV, delimiter: options.delimiter.byte,
        byteOrderMark: options.byteOrderMark)
    case .jsonLines, .jsonLinesGzip, .jsonLinesZstd:
      return JSONLinesWriter(file: sink, columns: query.columns, guardFormulas: !rawCSV)
    case .parquet:
      return ParquetWriter(sink: sink, columns: query.columns, guardFormulas: !rawCSV)
    case .xlsx:
      return try XLSXWriter(
        sink: sink, temporaryPath: file.directory.path + "/" + AtomicWriter.temporaryPrefix + "workbook.xlsx",
        columns: query.columns, guardFormulas: !rawCSV)
    }
  }

  private func export(
    _ job: Job, shouldStop: () -> Bool, grouped: Bool, progress: @escaping (Int) throws -> Void
  ) throws(JobError) -> Result {
    guard let request = job.record.request else {
      throw JobError(.badRequest, job.record.error ?? "request could not be read")
    }
    guard let jobType = catalog.jobType(named: request.jobType) else {
      throw JobError(
        .badRequest,
        "job_type: unknown job type '\(request.jobType)' (job types: \(catalog.names.joined(separator: ", ")))"
      )
    }
    let scope = try scope(of: job, jobType: jobType.name)
    let query: ExportQuery
    do {
      query = try ExportQuery(
        jobType: jobType, request: request, scope: scope, window: job.record.window?.filter,
        dialect: source.dialect)
    } catch {
      throw JobError(.badRequest, error.message)
    }
    let baseName = "\(jobType.name)-\(job.record.createdAt.compact)"
    let name = "\(baseName).\(request.format.fileExtension)"
    let file: ExportFile?
    let parted: PartedExport?
    let site: Outbox
    do {
      site = try store.sites.site(for: job)
      // A split export run again starts from nothing: the parts of an earlier run are not this run's.
      if request.split != nil { site.removeExport(id: job.id) }
      let directory = try site.filesDirectory(for: job.id, durable: !grouped || request.split != nil)
      if request.split != nil {
        file = nil
        parted = PartedExport(
          site: site, directory: directory, jobID: job.id, baseName: baseName, format: request.format
        ) { [unowned self] file in try makeWriter(for: request, query: query, file: file) }
      } else {
        file = try ExportFile(directory: directory, name: FileName(name))
        parted = nil
      }
    } catch {
      try? store.sites.site(for: job).removeEmptyFilesDirectory(for: job.id)
      throw JobError(.writeFailed, "cannot create the export file: \(error.reason)", cause: error)
    }
    // A job that publishes no file leaves no empty public folder behind.
    func abandon() {
      file?.discard()
      parted?.discard()
      site.removeEmptyFilesDirectory(for: job.id)
    }
    var rows = 0
    do {
      let writer: any RowWriter =
        if let parted, let split = request.split {
          parted.writer(split: split, guardFormulas: !rawCSV)
        } else {
          try makeWriter(for: request, query: query, file: file!)
        }
      defer {
        (writer as? XLSXWriter)?.discard()
        (writer as? SplitWriter)?.discard()
      }
      try writer.header(query.columns.map(\.name))
      // The first count is published a quarter of a second in, then one every `progressInterval`.
      var next = Timestamp.now().milliseconds + min(250, progressInterval)
      let cancellation = running.add(job.id)
      defer { running.remove(job.id) }
      if store.isCancelRequested(job.id) { cancellation.cancel() }
      rows = try source.export(query, to: writer, cancellation: cancellation) { count in
        rows = count
        CrashPoint.reached("mid-export")
        let now = Timestamp.now().milliseconds
        if now >= next {
          next = now + self.progressInterval
          try progress(count)
        }
      }
      try writer.finish()
    } catch let error where error is Cancelled || store.isCancelRequested(job.id) {
      // Cut short by its partner: the row loop's check, or the query interrupted inside the source.
      abandon()
      throw .cancelled
    } catch let error where error is Interrupted || shouldStop() {
      // Cut short by a shutdown (the progress check, or the source interrupted inside its query).
      abandon()
      throw .interrupted
    } catch let error as any DataSourceError {
      abandon()
      throw JobError(.sourceFailed, error.publicDescription, cause: error, transient: error.isTransient)
    } catch let error as FileSystemError {
      abandon()
      throw JobError(.writeFailed, "export failed after \(rows) rows: \(error.reason)", cause: error)
    } catch let error as WriterError {
      abandon()
      throw JobError(.writeFailed, error.publicDescription, cause: error)
    } catch {
      abandon()
      // Its text may name a path or a query: the log has it, the partner reads what happened.
      throw JobError(
        .internalError, "export failed after \(rows) rows: internal error (see the service's log)",
        cause: error)
    }
    if store.isCancelRequested(job.id) {
      abandon()
      throw .cancelled
    }
    // A run whose window holds no row says "nothing changed": it succeeds, and its schedule moves on.
    if rows == 0 && !emptyOK && job.record.window == nil {
      abandon()
      throw JobError(.noResults, JobRunner.noResults, rows: 0)
    }
    let result: Result
    do {
      if let parted {
        // The parts are published; the manifest now says the export is complete. `bytes` is the
        // export's (all parts), `sha256` the manifest's (link.href; the parts' are in it).
        let manifest = try parted.publishManifest(complete: true)
        result = Result(
          rows: rows, bytes: parted.parts.reduce(0) { $0 + $1.bytes }, sha256: manifest.sha256,
          fileName: PartedExport.manifestName, parts: parted.parts.count, partNames: parted.parts.map(\.name))
      } else {
        // Without a sync when grouped: the group's commit flushes it before the job's success is written.
        let sha = try file!.publish(durable: !grouped)
        site.exportPublished(id: job.id, name: name)
        result = Result(rows: rows, bytes: file!.byteCount, sha256: sha, fileName: name)
      }
      CrashPoint.reached("export-published")
    } catch {
      parted?.discard()
      site.removeEmptyFilesDirectory(for: job.id)
      let reason = (error as? FileSystemError)?.reason ?? "internal error (see the service's log)"
      throw JobError(.writeFailed, "cannot publish the export file: \(reason)", cause: error)
    }
    if store.backend.isShared {
      for name in (parted?.parts.map(\.name) ?? []) + [result.fileName] {
        try waitUntilMirrored(job, name: name, in: site, shouldStop: shouldStop)
      }
    }
    return result
  }
}

extension JobRunner {
  /// With several nodes on one bucket: waits until the job's export file is in the bucket before its
  /// success is recorded, so the document another node puts never points to a file not there yet. A
  /// shutdown, a cancel or a lost lease stops the wait (the job runs again, or fails as cancelled).
  func waitUntilMirrored(_ job: Job, name: String, in site: Outbox, shouldStop: () -> Bool)
    throws(JobError)
  {
    var warned = false
    let started = ConditionLock.monotonicMilliseconds()
    let mirrored = site.waitUntilMirrored(id: job.id, name: name) {
      if !warned && ConditionLock.monotonicMilliseconds() - started > 5000 {
        logger.warning(
          "waiting for the export file to reach the bucket before the job's success is recorded",
          metadata: ["job.id": "\(job.id)"])
        warned = true
      }
      return !shouldStop() && !store.isCancelRequested(job.id) && !store.hasLostLease(job.id)
    }
    if mirrored { return }
    if store.isCancelRequested(job.id) { throw .cancelled }
    throw .interrupted
  }
}

/// The cancellations of the exports running now, by job id.
private final class RunningExports: Sendable {
  private let exports = Mutex<[String: ExportCancellation]>([:])

  func add(_ id: String) -> ExportCancellation {
    let cancellation = ExportCancellation()
    exports.withLock { $0[id] = cancellation }
    return cancellation
  }

  func remove(_ id: String) { exports.withLock { $0[id] = nil } }

  func cancel(_ id: String) { exports.withLock { $0[id] }?.cancel() }
}
