import JobdropModel
import JobdropState
import JobdropSystem
import Logging
import ServiceLifecycle

/// Claims requests on its own thread: takes what the watcher posts, retries cut-short and
/// still-settling requests when they are due, and rescans every drop folder every ``rescanInterval``
/// as a safety net. Wakes the runners after each claim. With `--partners` it also reloads the partners
/// file when it changes (and at each rescan, if it changed unseen): a valid new version takes effect at
/// once, an invalid one is logged and the one in force stays.
public struct IntakeService: Service {
  let intakes: IntakeSet
  let folders: WatchList
  let mailbox: InboxMailbox
  let runners: ThreadControl
  let settleMilliseconds: Int64
  let logger: Logger
  /// Milliseconds between safety-net rescans.
  public var rescanInterval: Int64 = 30_000

  public init(
    intakes: IntakeSet, folders: WatchList, mailbox: InboxMailbox, runners: ThreadControl,
    settleMilliseconds: Int64, logger: Logger
  ) {
    self.intakes = intakes
    self.folders = folders
    self.mailbox = mailbox
    self.runners = runners
    self.settleMilliseconds = settleMilliseconds
    self.logger = logger
  }

  /// A request in one of the drop folders.
  struct Entry: Hashable {
    var partner: String?
    var name: FileName
  }

  public func run() async throws {
    try await DedicatedThread.runService(
      name: "jobdrop-intake", what: "intake", logger: logger, stop: mailbox.control.stop, loop)
  }

  private func loop() throws {
    // What a stop leaves claimed in the inbox (files in their grace time) stays there: the next start
    // takes each away by its claim record. Retiring them now would hold the shutdown back (100,000
    // claims took 16 s) while the runners went on taking jobs.
    var waiting: [Entry: Int64] = [:]  // entry → monotonic deadline
    // Requests a writer is still at work on (IN_MODIFY seen, no IN_CLOSE_WRITE since): never judged
    // until it closes them, however long it pauses.
    var writers = Set<Entry>()
    var nextRescan = ConditionLock.monotonicMilliseconds() + rescanInterval
    let notifier = SystemdNotifier.shared
    let store = intakes.store
    /// The watchdog hears from this loop, so a stuck intake gets the process restarted.
    func ping() { notifier.pingIfDue { "taking requests; \(store.activeTotal) jobs pending or started" } }
    defer { notifier.send("STOPPING=1") }
    while true {
      ping()
      TestHook.stallIfAsked("intake", until: { mailbox.control.isStopped })
      let deadline = min(
        nextRescan, waiting.values.min() ?? .max,
        notifier.pingInterval.map { ConditionLock.monotonicMilliseconds() + $0 } ?? .max)
      guard mailbox.control.sleep(untilMilliseconds: deadline) else { return }
      var entries: [Entry] = []
      var finished = Set<Entry>()  // closed by their writer or renamed in: judged as they are now
      var scan = false
      var overflowed = false
      var reload = false
      for work in mailbox.drain() {
        switch work {
        case .rescan(let reason):
          scan = true
          if reason == "queue overflow" { overflowed = true }
        case .partnersChanged: reload = true
        case .look(let partner, let name, .written):
          if InboxEntryKind(name) == .request { writers.insert(Entry(partner: partner, name: name)) }
        case .look(let partner, let name, .closed), .look(let partner, let name, .moved):
          let entry = Entry(partner: partner, name: name)
          writers.remove(entry)
          finished.insert(entry)
          entries.append(entry)
        case .look(let partner, let name, .created):
          // Appeared by IN_CREATE alone: look now (a hard link is complete) and again when it has settled.
          let entry = Entry(partner: partner, name: name)
          waiting[entry] = ConditionLock.monotonicMilliseconds() + settleMilliseconds
          entries.append(entry)
        }
      }
      let now = ConditionLock.monotonicMilliseconds()
      if now >= nextRescan {
        scan = true
        reload = true
        nextRescan = now + rescanInterval
      }
      if reload { reloadPartners() }
      for (entry, due) in waiting where due <= now {
        entries.append(entry)
        waiting[entry] = nil
      }
      if scan {
        store.metrics.rescanned(overflow: overflowed)
        var present = Set<Entry>()
        for (partner, intake) in intakes.all {
          for name in try intake.inbox.requestNames() { present.insert(Entry(partner: partner, name: name)) }
        }
        writers.formIntersection(present)
        entries += present
      }
      var passes: [String?: RequestIntake.Pass] = [:]
      var pendingEntries = Set(entries)
      // Claims are made durable in groups: when a group is full and at the end of the pass; the runners
      // see a job once its claim is committed.
      let group = ClaimGroup()
      func commit() {
        let takers = group.takers
        var undone = RequestIntake.Pass()
        // The runners are woken as soon as the jobs are queued: the first one starts while the claims'
        // documents are written.
        if RequestIntake.commit(group, store: intakes.store, into: &undone, whenQueued: runners.wake) {
          return
        }
        // Undone (their requests stay in the inbox): looked at again after the claim retry time.
        for (intake, name, _) in takers {
          waiting[Entry(partner: intake.partner, name: name)] =
            ConditionLock.monotonicMilliseconds() + RequestIntake.claimRetryMilliseconds
          passes[intake.partner]?.retiring[name] = nil
        }
      }
      while let entry = pendingEntries.popFirst() {
        ping()
        // A long backlog is not a reason to ignore SIGTERM: what is not claimed stays in the inbox and
        // is picked up at the next start.
        if mailbox.control.isStopped {
          commit()
          return
        }
        guard let intake = intakes.intake(for: entry.partner) else { continue }
        let writer: RequestIntake.Writer =
          writers.contains(entry) ? .writing : finished.contains(entry) ? .done : .unknown
        let before = passes[entry.partner]?.claimed.count ?? 0
        intake.take(
          entry.name, into: &passes[entry.partner, default: RequestIntake.Pass()], writer: writer,
          group: group)
        if (passes[entry.partner]?.claimed.count ?? 0) > before { waiting[entry] = nil }
        if group.isDue { commit() }
      }
      commit()
      for (partner, pass) in passes {
        for (name, retry) in pass.waiting.merging(pass.retiring, uniquingKeysWith: min) {
          waiting[Entry(partner: partner, name: name)] =
            ConditionLock.monotonicMilliseconds()
            + max(0, retry.milliseconds - intakes.store.clock.now().milliseconds)
        }
      }
    }
  }

  /// Reads the partners file again; a valid new version opens the new partners' folders (the watcher
  /// adds them and asks for a scan) and stops reading those of removed partners.
  private func reloadPartners() {
    guard let registry = intakes.partners else { return }
    switch registry.reload() {
    case .unchanged:
      return
    case .refused(let error):
      logger.error(
        "the new partners file is refused; the previous one stays in force",
        metadata: ["error": "\(error)"])
    case .changed(let list):
      do {
        let change = try intakes.update(to: list)
        logger.notice(
          "partners file reloaded",
          metadata: [
            "partners": "\(list.ids.count)", "partners.added": "\(change.added.joined(separator: ","))",
            "partners.removed": "\(change.removed.joined(separator: ","))",
          ])
      } catch {
        logger.error("cannot open the new partners' folders", metadata: ["error": "\(error)"])
      }
      folders.set(intakes.folders)
      runners.wake()
    }
  }
}
