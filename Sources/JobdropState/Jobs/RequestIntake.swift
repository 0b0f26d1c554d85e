import JobdropModel
import JobdropSystem
import Logging

/// Takes requests from the inbox into the store: reads each safely, parses it, and claims it as a job.
///
/// A request whose JSON is cut short (a writer still at work) is left in place until it has been
/// unchanged for the settle time, then claimed as a failed job. Anything that is not a regular file is
/// refused and left alone, logged once.
// @unchecked: its mutable sets (`refused`, `delayed`) are used by one thread only, the intake's.
public final class RequestIntake: @unchecked Sendable {
  package let inbox: Inbox
  let store: JobStore
  let parser: RequestParser
  let settleMilliseconds: Int64
  let logger: Logger
  private var refused = Set<FileName>()
  /// Requests whose read or claim failed and wait to be tried again (warned about once).
  private var delayed = Set<FileName>()

  public init(inbox: Inbox, store: JobStore, parser: RequestParser, settleMilliseconds: Int64, logger: Logger)
  {
    self.inbox = inbox
    self.store = store
    self.parser = parser
    self.settleMilliseconds = settleMilliseconds
    self.logger = logger
  }

  /// What one pass over the inbox did.
  public struct Pass: Sendable {
    /// Jobs created.
    public var claimed: [Job] = []
    /// Requests left waiting (cut short, still settling) and when to look at each again.
    public var waiting: [FileName: Timestamp] = [:]

    public init() {}

    /// The earliest time a waiting request should be looked at again.
    public var retryAt: Timestamp? { waiting.values.min() }
  }

  /// Looks at every request in the inbox once. Throws only when the inbox itself cannot be listed.
  public func scan() throws(FileSystemError) -> Pass {
    var pass = Pass()
    for name in try inbox.requestNames() {
      take(name, into: &pass)
    }
    return pass
  }

  /// How long a request whose claim failed (a full or failing disk) waits before it is tried again.
  static let claimRetryMilliseconds: Int64 = 1000

  /// Looks at one inbox entry; ignores names that are not requests.
  ///
  /// Never throws: whatever a partner does to the entry meanwhile (delete, rename, replace, truncate, turn
  /// it into a directory) means the request is gone or will be seen again, and a claim the disk refuses
  /// (`ENOSPC`, `EIO`) is retried after ``claimRetryMilliseconds``: the request stays in the inbox.
  public func take(_ name: FileName, into pass: inout Pass) {
    guard InboxEntryKind(name) == .request else { return }
    let now = Timestamp.now()
    let content: Inbox.Content
    do {
      content = try inbox.read(name)
    } catch {
      retryLater(name, because: "cannot read the request", error, into: &pass)
      return
    }
    var record = JobRecord(
      id: JobID.make(), requestFile: name.display, jobType: "", request: nil, createdAt: now)
    let pin: PinnedFile
    switch content {
    case .gone:
      return
    case .refused(let kind):
      if refused.insert(name).inserted {
        logger.warning(
          "not a regular file; left in the inbox",
          metadata: ["request.file": "\(name.display)", "file.kind": "\(kind)"])
      }
      return
    case .unreadable(let unreadable):
      pin = unreadable
      let mode = String(unreadable.status.st_mode & 0o7777, radix: 8)
      record.error =
        "request file is not readable by the service (mode 0\(mode), owner uid \(unreadable.status.st_uid)); "
        + "upload it readable by the service's group, e.g. mode 0640"
    case .file(let bytes, let changedAt, let readable):
      pin = readable
      do {
        guard let fileName = name.utf8String else {
          throw RequestError("request file name is not valid UTF-8: '\(name.display)'")
        }
        if fileName.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
          throw RequestError("request file name contains control characters: '\(name.display)'")
        }
        let request = try parser.read(bytes)
        record.request = request
        record.jobType = request.jobType
        try parser.validate(request)
      } catch let error as RequestError {
        if error.isTruncated && now.milliseconds - changedAt.milliseconds < settleMilliseconds {
          pass.waiting[name] = Timestamp(milliseconds: changedAt.milliseconds + settleMilliseconds)
          return
        }
        record.error = error.message
      } catch {
        record.error = "\(error)"
      }
    }
    refused.remove(name)
    let state: JobState = record.error == nil ? .pending : .failed
    let job: Job
    do {
      // The pin stays open through the claim, so the identity it checks cannot be reused meanwhile.
      job = try withExtendedLifetime(pin) {
        try store.claim(name, from: inbox, record: record, state: state, identity: pin.identity)
      }
    } catch let error as ClaimError {
      logger.info("request changed while it was claimed", metadata: ["request.file": "\(error)"])
      if case .replaced = error { pass.waiting[name] = now }
      return
    } catch {
      retryLater(name, because: "cannot claim the request", error, into: &pass)
      return
    }
    delayed.remove(name)
    pass.claimed.append(job)
    logger.info(
      state == .pending ? "request claimed" : "request refused",
      metadata: [
        "job.id": "\(job.id)", "job.type": "\(record.jobType)", "request.file": "\(record.requestFile)",
        "job.status": "\(state.rawValue)",
      ].merging(record.error.map { ["error": "\($0)"] } ?? [:]) { $1 })
  }

  /// Leaves `name` in the inbox to be tried again soon; warns once per name until it is claimed.
  private func retryLater(_ name: FileName, because what: String, _ error: any Error, into pass: inout Pass) {
    if delayed.insert(name).inserted {
      logger.warning(
        "\(what); it stays in the inbox and is tried again",
        metadata: ["request.file": "\(name.display)", "error": "\(error)"])
    }
    pass.waiting[name] = Timestamp(
      milliseconds: Timestamp.now().milliseconds + RequestIntake.claimRetryMilliseconds)
  }
}
