import Logging

/// Takes requests from the inbox into the store: reads each safely, parses it, and claims it as a job.
///
/// A request whose JSON is cut short (a writer still at work) is left in place until it has been
/// unchanged for the settle time, then claimed as a failed job. Anything that is not a regular file is
/// refused and left alone, logged once.
public final class RequestIntake: @unchecked Sendable {
  let inbox: Inbox
  let store: JobStore
  let parser: RequestParser
  let settleMilliseconds: Int64
  let logger: Logger
  private var refused = Set<FileName>()

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

    /// The earliest time a waiting request should be looked at again.
    public var retryAt: Timestamp? { waiting.values.min() }
  }

  /// Looks at every request in the inbox once.
  public func scan() throws -> Pass {
    var pass = Pass()
    for name in try inbox.requestNames() {
      try take(name, into: &pass)
    }
    return pass
  }

  /// Looks at one inbox entry; ignores names that are not requests.
  public func take(_ name: FileName, into pass: inout Pass) throws {
    guard InboxEntryKind(name) == .request else { return }
    let now = Timestamp.now()
    let content: Inbox.Content
    do {
      content = try inbox.read(name)
    } catch {
      logger.warning(
        "cannot read request", metadata: ["request.file": "\(name.display)", "error": "\(error)"])
      return
    }
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
    case .file(let bytes, let changedAt):
      refused.remove(name)
      var record = JobRecord(
        id: JobID.make(), requestFile: name.display, jobType: "", request: nil, createdAt: now)
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
      }
      let state: JobState = record.error == nil ? .pending : .failed
      let job = try store.claim(name, from: inbox, record: record, state: state)
      pass.claimed.append(job)
      logger.info(
        state == .pending ? "request claimed" : "request refused",
        metadata: [
          "job.id": "\(job.id)", "job.type": "\(record.jobType)", "request.file": "\(record.requestFile)",
          "job.status": "\(state.rawValue)",
        ].merging(record.error.map { ["error": "\($0)"] } ?? [:]) { $1 })
    }
  }
}
