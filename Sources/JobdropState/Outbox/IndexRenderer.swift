import JobdropSystem
import Logging
import Synchronization

/// When the sites' `index.json` and `index.html` are rendered: which sites are out of date, and the
/// budget that keeps rendering under a tenth of the time.
///
/// The first change after a quiet spell renders at once; a render spends the time it took from a budget
/// that refills at a tenth of the time passing (up to ``budgetCap`` ms), and a render that overdraws it
/// makes the next wait until a tenth of the time has paid it back. So a burst coalesces, and the cost
/// per job stays flat as the number of jobs listed grows. What the documents hold is assembled by the
/// caller (``JobStore``, under its lock); this type never reads the job table.
final class IndexRenderer: Sendable {
  /// The most render time saved up over a quiet spell: a busy spell's first renders run at once.
  static let budgetCap = 50.0

  private struct State {
    /// The sites whose index is out of date.
    var dirty = Set<String?>()
    /// When the next render may run (monotonic milliseconds).
    var nextAllowed: Int64 = 0
    /// Milliseconds of rendering allowed now.
    var budget = IndexRenderer.budgetCap
    var budgetAt = ConditionLock.monotonicMilliseconds()
    /// Told whenever an index goes out of date (the outbox renderer's wake-up).
    var changeHandler: (@Sendable () -> Void)?
  }

  private let state = Mutex(State())
  /// Held through a render: one render at a time, in order.
  private let rendering = Mutex(())
  /// The shortest time between two renders, in milliseconds (besides the budget's wait).
  let interval: Int64
  private let logger: Logger

  init(interval: Int64, logger: Logger) {
    self.interval = interval
    self.logger = logger
  }

  /// Marks `partner`'s index out of date and tells the change handler (quickly: callers hold the job
  /// table's lock).
  func markDirty(_ partner: String?) {
    let handler = state.withLock {
      $0.dirty.insert(partner)
      return $0.changeHandler
    }
    handler?()
  }

  /// Calls `handler` whenever an index goes out of date.
  func onChange(_ handler: @escaping @Sendable () -> Void) { state.withLock { $0.changeHandler = handler } }

  /// When the next render may run (monotonic milliseconds), or `nil` when every index is current.
  var nextRender: Int64? { state.withLock { $0.dirty.isEmpty ? nil : $0.nextAllowed } }

  /// Forgets what is out of date (another node renders the index).
  func clear() { state.withLock { $0.dirty.removeAll() } }

  /// The assembled documents of one site, and the time assembling took (not counting a wait for the job
  /// table's lock).
  typealias Assembled = (
    documents: [(partner: String?, site: Outbox, bytes: Outbox.IndexDocuments)], took: Duration
  )

  /// Renders every site out of date, if the last render is old enough (or `force`): `assemble` builds
  /// the documents of the sites it is given (those it cannot open stay out of date, and it throws after
  /// the others are written), `waitForDocuments` waits until the documents prepared before are written
  /// (an index never lists a job whose document is not there yet).
  func render(
    force: Bool, assemble: (Set<String?>) -> (Assembled, unopened: (any Error)?), waitForDocuments: () -> Void
  ) throws {
    try rendering.withLock { _ in
      let now = ConditionLock.monotonicMilliseconds()
      let partners: Set<String?> = state.withLock { state in
        guard !state.dirty.isEmpty, force || now >= state.nextAllowed else { return [] }
        defer { state.dirty.removeAll() }
        return state.dirty
      }
      guard !partners.isEmpty else { return }
      let (assembled, unopened) = assemble(partners)
      let written = Set(assembled.documents.map(\.partner))
      let left = partners.subtracting(written)
      if !left.isEmpty { state.withLock { $0.dirty.formUnion(left) } }
      if !assembled.documents.isEmpty {
        try write(assembled, waitForDocuments: waitForDocuments)
      }
      if let unopened { throw unopened }
    }
  }

  /// Writes the assembled documents and charges the render to the budget.
  private func write(_ assembled: Assembled, waitForDocuments: () -> Void) throws {
    // Documents prepared before the index was assembled are written before it (a slow disk's wait for
    // them is not rendering, and charging it would hold the next index back ten times as long).
    let waited = ContinuousClock.now
    waitForDocuments()
    let writing = ContinuousClock.now
    for (offset, document) in assembled.documents.enumerated() {
      do {
        try document.site.writeIndex(document.bytes)
      } catch {
        state.withLock { $0.dirty.formUnion(assembled.documents[offset...].map(\.partner)) }
        throw error
      }
    }
    let end = ConditionLock.monotonicMilliseconds()
    let written = ContinuousClock.now - writing
    let elapsed = (assembled.took + written).components
    let spent = Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15
    logger.debug(
      "index rendered",
      metadata: [
        "index.sites": "\(assembled.documents.count)", "index.assembled": "\(assembled.took)",
        "index.waited": "\(writing - waited)", "index.written": "\(written)",
      ])
    state.withLock { state in
      state.budget = min(IndexRenderer.budgetCap, state.budget + Double(end - state.budgetAt) / 10) - spent
      state.budgetAt = end
      // Over budget: wait until a tenth of the time has paid the overdraft back.
      state.nextAllowed =
        end + max(interval, state.budget < 0 ? Int64((-state.budget * 10).rounded(.up)) : 0)
    }
  }
}
