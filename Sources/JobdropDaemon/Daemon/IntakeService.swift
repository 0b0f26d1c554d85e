import JobdropState
import JobdropSystem
import Logging
import ServiceLifecycle

/// Claims requests on its own thread: takes what the watcher posts, retries cut-short and
/// still-settling requests when they are due, and rescans the whole inbox every ``rescanInterval``
/// as a safety net. Wakes the runners after each claim.
public struct IntakeService: Service {
  let intake: RequestIntake
  let mailbox: InboxMailbox
  let runners: ThreadControl
  let settleMilliseconds: Int64
  let logger: Logger
  /// Milliseconds between safety-net rescans.
  public var rescanInterval: Int64 = 30_000

  public init(
    intake: RequestIntake, mailbox: InboxMailbox, runners: ThreadControl, settleMilliseconds: Int64,
    logger: Logger
  ) {
    self.intake = intake
    self.mailbox = mailbox
    self.runners = runners
    self.settleMilliseconds = settleMilliseconds
    self.logger = logger
  }

  public func run() async throws {
    try await DedicatedThread.runService(
      name: "jobdrop-intake", what: "intake", logger: logger, stop: mailbox.control.stop, loop)
  }

  private func loop() throws {
    // What a stop leaves claimed in the inbox goes now, not at the next start.
    defer { intake.retireAll() }
    var waiting: [FileName: Int64] = [:]  // name → monotonic deadline
    // Requests a writer is still at work on (IN_MODIFY seen, no IN_CLOSE_WRITE since): never judged
    // until it closes them, however long it pauses.
    var writers = Set<FileName>()
    var nextRescan = ConditionLock.monotonicMilliseconds() + rescanInterval
    while true {
      let deadline = min(nextRescan, waiting.values.min() ?? .max)
      guard mailbox.control.sleep(untilMilliseconds: deadline) else { return }
      var names: [FileName] = []
      var finished = Set<FileName>()  // closed by their writer or renamed in: judged as they are now
      var scan = false
      for work in mailbox.drain() {
        switch work {
        case .rescan: scan = true
        case .look(let name, .written):
          if InboxEntryKind(name) == .request { writers.insert(name) }
        case .look(let name, .closed), .look(let name, .moved):
          writers.remove(name)
          finished.insert(name)
          names.append(name)
        case .look(let name, .created):
          // Appeared by IN_CREATE alone: look now (a hard link is complete) and again when it has settled.
          waiting[name] = ConditionLock.monotonicMilliseconds() + settleMilliseconds
          names.append(name)
        }
      }
      let now = ConditionLock.monotonicMilliseconds()
      if now >= nextRescan {
        scan = true
        nextRescan = now + rescanInterval
      }
      for (name, due) in waiting where due <= now {
        names.append(name)
        waiting[name] = nil
      }
      if scan {
        let present = try intake.inbox.requestNames()
        writers.formIntersection(present)
        names += present
      }
      var pass = RequestIntake.Pass()
      var pendingNames = Set(names)
      while let name = pendingNames.popFirst() {
        // A long backlog is not a reason to ignore SIGTERM: what is not claimed stays in the inbox and
        // is picked up at the next start.
        if mailbox.control.isStopped { return }
        let before = pass.claimed.count
        let writer: RequestIntake.Writer =
          writers.contains(name) ? .writing : finished.contains(name) ? .done : .unknown
        intake.take(name, into: &pass, writer: writer)
        if pass.claimed.count > before {
          waiting[name] = nil
          runners.wake()
        }
      }
      for (name, retry) in pass.waiting.merging(pass.retiring, uniquingKeysWith: min) {
        waiting[name] =
          ConditionLock.monotonicMilliseconds() + max(0, retry.milliseconds - Timestamp.now().milliseconds)
      }
    }
  }
}
