import JobdropExport
import JobdropModel
import JobdropPostgres
import JobdropState
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `jobdrop submit`: puts a request into the inbox in one rename and waits for a daemon to claim it.
///
/// Watches the spool's `pending/` and `failed/` folders (where a claim lands) before the request is
/// renamed in, so the claim cannot be missed; with a shared spool (`postgres://`) it listens for the
/// table's changes instead.
public struct RequestSubmitter {
  let inbox: Inbox
  let spool: Spool
  let shared: PostgresSpool?
  let partner: String?

  /// Submits into the inbox, or into `partner`'s drop folder (`inbox/<partner>/`, which a daemon serving
  /// that partner has created).
  public init(configuration: Configuration, partner: String? = nil) throws {
    if let partner {
      guard Partner.isValidID(partner) else {
        throw Failure(description: "--partner: '\(partner)' is not a partner id")
      }
      let path = "\(configuration.inbox)/\(partner)"
      guard (try? DirectoryHandle(path: path)) != nil else {
        throw Failure(
          description: "no drop folder \(path): is '\(partner)' in the partners file of the running jobdrop?")
      }
      inbox = try Inbox(path: path)
    } else {
      inbox = try Inbox(path: configuration.inbox)
    }
    spool = try Spool(path: configuration.spool)
    shared = try configuration.sharedSpool.map {
      try PostgresSpool(url: $0, node: "submit", leaseSeconds: configuration.leaseSeconds, reading: true)
    }
    self.partner = partner
  }

  /// Waits until `job` is `success` or `failed` and returns it, calling `progress` with the job each time
  /// its status file changes (a move, or its row count while it runs). Watches the spool's state folders.
  public func waitForEnd(of job: Job, progress: (Job) -> Void) throws -> Job {
    if let shared {
      var current = try shared.job(id: job.id) ?? job
      while true {
        progress(current)
        if current.state.isFinal { return current }
        _ = try shared.waitForChange(milliseconds: 1000)
        current = try shared.job(id: job.id) ?? current
      }
    }
    let watcher = try DirectoryWatcher(
      directories: JobState.allCases.map { spool.folder($0).path }, mask: [.movedTo, .create])
    var current = spool.reader.job(id: job.id) ?? job
    while true {
      progress(current)
      if current.state.isFinal { return current }
      // Each move or progress update renames a status file into a state folder; a second's timeout
      // re-reads anyway.
      _ = try watcher.next(timeoutSeconds: 1)
      current = spool.reader.job(id: job.id) ?? current
    }
  }

  /// Why a submission did not complete.
  public struct Failure: Error, CustomStringConvertible {
    public var description: String
  }

  /// Writes `bytes` as `name` in the inbox and returns the job once claimed. When the inbox holds a file of
  /// that name already (an earlier upload still in its grace time, say), the request goes in as
  /// `<name>-2.json`, `<name>-3.json`, … instead: `submitted` is told the name used.
  public func submit(
    _ bytes: [UInt8], as requested: FileName, timeoutMilliseconds: Int64,
    submitted: (FileName) -> Void = { _ in }
  ) throws -> Job {
    let watcher = try DirectoryWatcher(
      directories: [JobState.pending, .failed].map { spool.folder($0).path }, mask: [.movedTo, .create])
    let started = Timestamp.now()
    let temporary = FileName(".submit-\(getpid())-\(requested.display)")
    let descriptor = try inbox.directory.openFile(temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW)
    var name = requested
    do {
      try AtomicWriter.writeAll(bytes, to: descriptor.raw, path: inbox.directory.display(temporary))
      try syscall("fsync", inbox.directory.display(temporary)) { fsync(descriptor.raw) }
      try descriptor.close(path: inbox.directory.display(temporary))
      let stem = requested.display.dropLast(5)
      for attempt in 2...1001 {
        let renamed = Result { () throws(FileSystemError) in
          try inbox.directory.renameNoReplace(temporary, to: inbox.directory, as: name)
        }
        guard case .failure(let error) = renamed else { break }
        guard error.errno == EEXIST && attempt <= 1000 else { throw error }
        name = FileName("\(stem)-\(attempt).json")
      }
    } catch {
      try? inbox.directory.remove(temporary)
      throw error
    }
    submitted(name)
    let deadline = ConditionLock.monotonicMilliseconds() + timeoutMilliseconds
    while let shared, ConditionLock.monotonicMilliseconds() < deadline {
      let since = Timestamp(milliseconds: started.milliseconds - 1000)
      do {
        if let job = try shared.claimed(file: name.display, partner: partner, since: since) { return job }
      } catch let error as PostgresError where error.sqlState == "42P01" {
        // No table yet: no node has started on this spool yet; one may still come up and claim it.
      }
      _ = try shared.waitForChange(milliseconds: 1000)
    }
    while shared == nil && ConditionLock.monotonicMilliseconds() < deadline {
      let remaining = deadline - ConditionLock.monotonicMilliseconds()
      guard let event = try watcher.next(timeoutSeconds: Int(min(1, max(1, remaining / 1000)))),
        let file = event.name, file.hasSuffix(".json"), !file.hasPrefix(".")
      else { continue }
      let id = String(file.display.dropLast(5))
      if let job = spool.reader.job(id: id), job.record.requestFile == name.display,
        job.record.partner == partner,
        job.record.createdAt.milliseconds >= started.milliseconds - 1000
      {
        return job
      }
    }
    throw Failure(
      description:
        "\(name.display) is in the inbox but no jobdrop claimed it within \(timeoutMilliseconds / 1000)s; is `jobdrop run` running on \(inbox.directory.path)?"
    )
  }
}
