import JobdropState
import JobdropSystem
import Synchronization

/// Something a lane sends: it belongs to a partner's lane and is due at a time.
protocol LaneItem: Sendable {
  var id: String { get }
  var partner: String? { get }
  var nextAttemptAt: Timestamp { get }
}

/// Work sent beside the jobs, never in their way: one lane (a thread and whatever connection its worker
/// keeps) per partner, so a slow or dead receiver holds up only its own partner's items. Webhook events
/// and file deliveries each have one.
///
/// A lane makes its due items' attempts one at a time, oldest first, with its own worker (made on first
/// use by `makeWorker`): the worker returns the item with its next attempt set, or `nil` when it is done
/// with it. Times are the store's clock; waits are on the monotonic one.
final class Lanes<Item: LaneItem>: Sendable {
  private let clock: ServiceClock
  private let threadName: String
  private let makeWorker: @Sendable () -> (Item) -> Item?
  private let state = Mutex<(lanes: [String?: Lane<Item>], started: Bool)>(([:], false))

  init(clock: ServiceClock, threadName: String, makeWorker: @escaping @Sendable () -> (Item) -> Item?) {
    self.clock = clock
    self.threadName = threadName
    self.makeWorker = makeWorker
  }

  /// Takes an item for its partner's lane.
  func add(_ item: Item) {
    state.withLock { state in
      let lane =
        state.lanes[item.partner] ?? Lane(clock: clock, threadName: threadName, makeWorker: makeWorker)
      state.lanes[item.partner] = lane
      lane.add(item)
      if state.started { lane.start() }
    }
  }

  /// Starts every lane's thread.
  func start() {
    state.withLock { state in
      state.started = true
      for lane in state.lanes.values { lane.start() }
    }
  }

  /// Stops every lane after its current attempt and waits for them.
  func stop() {
    let all = state.withLock { state in
      state.started = false
      return Array(state.lanes.values)
    }
    for lane in all { lane.stop() }
  }

  /// For a batch run: one attempt at every due item, the lanes side by side, and returns.
  func attemptDueOnce() {
    let all = state.withLock { Array($0.lanes.values) }
    let threads = all.map { lane in JoinableThread(name: threadName) { lane.attemptDue() } }
    threads.forEach { $0.join() }
  }

  /// Items waiting, for `jobdrop status`, the metrics and the logs.
  var waiting: Int { state.withLock { $0.lanes.values.reduce(0) { $0 + $1.count } } }
}

/// The items of one partner and the thread that sends them, one at a time.
// @unchecked: `pending`, `thread` and `stopping` are only touched under `lock` (a ConditionLock: threads
// wait on it for a change); `worker` only by the one thread attempting (the lane's, or a batch run's).
private final class Lane<Item: LaneItem>: @unchecked Sendable {
  private let clock: ServiceClock
  private let threadName: String
  private let makeWorker: () -> (Item) -> Item?
  private let lock = ConditionLock()
  private var pending: [String: Item] = [:]
  private var thread: JoinableThread?
  private var stopping = false
  private lazy var worker = makeWorker()

  init(clock: ServiceClock, threadName: String, makeWorker: @escaping () -> (Item) -> Item?) {
    self.clock = clock
    self.threadName = threadName
    self.makeWorker = makeWorker
  }

  var count: Int { lock.withLock { pending.count } }

  func add(_ item: Item) {
    lock.withLock { pending[item.id] = item }
    lock.broadcast()
  }

  func start() {
    lock.withLock {
      guard thread == nil else { return }
      stopping = false
      thread = JoinableThread(name: threadName) { [self] in run() }
    }
  }

  func stop() {
    let running = lock.withLock {
      stopping = true
      defer { thread = nil }
      return thread
    }
    lock.broadcast()
    running?.join()
  }

  /// The due item that has waited longest, or when the next one is due.
  private func next(now: Int64) -> (due: Item?, wake: Int64?) {
    guard let first = pending.values.min(by: { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }) else {
      return (nil, nil)
    }
    return first.nextAttemptAt.milliseconds <= now ? (first, nil) : (nil, first.nextAttemptAt.milliseconds)
  }

  private func run() {
    while true {
      let due: Item? = lock.withLock {
        while !stopping {
          let now = clock.now().milliseconds
          let (due, wake) = next(now: now)
          if let due { return due }
          // The wall clock sets attempts; the wait is on the monotonic one.
          lock.wait(untilMilliseconds: wake.map { ConditionLock.monotonicMilliseconds() + ($0 - now) })
        }
        return nil
      }
      guard let due else { return }
      finish(due, worker(due))
    }
  }

  /// Every item due now, once each (a batch run).
  func attemptDue() {
    let now = clock.now().milliseconds
    let due = lock.withLock { pending.values.filter { $0.nextAttemptAt.milliseconds <= now } }
    for item in due.sorted(by: { $0.nextAttemptAt < $1.nextAttemptAt }) {
      finish(item, worker(item))
    }
  }

  private func finish(_ item: Item, _ next: Item?) {
    lock.withLock { pending[item.id] = next }
  }
}
