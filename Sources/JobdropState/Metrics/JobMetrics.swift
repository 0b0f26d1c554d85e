import JobdropSystem
import Synchronization

/// What jobs did since the process started, for the metrics (``MetricsExposition``): finished jobs by
/// partner and status, and the durations, rows and bytes of exports. Counting is a locked increment on a
/// job's end; nothing is counted per row.
public final class JobMetrics: Sendable {
  /// A histogram with fixed upper bounds, as Prometheus reads one.
  public struct Histogram: Sendable {
    public let bounds: [Double]
    public private(set) var counts: [Int]
    public private(set) var sum: Double = 0
    public private(set) var count = 0

    init(bounds: [Double]) {
      self.bounds = bounds
      counts = Array(repeating: 0, count: bounds.count)
    }

    mutating func observe(_ value: Double) {
      for index in bounds.indices where value <= bounds[index] { counts[index] += 1 }
      sum += value
      count += 1
    }
  }

  public struct Snapshot: Sendable {
    /// Finished jobs by partner (`nil`: none) and final status.
    public var finished: [Key: Int] = [:]
    public var durations = Histogram(bounds: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800])
    public var rows = Histogram(bounds: [0, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000])
    /// Bytes of published export files by partner.
    public var bytes: [String?: Int64] = [:]
    /// Webhook attempts by outcome (`delivered`, `failed`, `given_up`).
    public var webhookAttempts: [String: Int] = [:]
    /// Delivery attempts by outcome (`delivered`, `failed`, `given_up`).
    public var deliveryAttempts: [String: Int] = [:]
    /// Scans of the drop folders (at start, every 30 s, after an overflow), and inotify queue overflows.
    public var rescans = 0
    public var overflows = 0
  }

  public struct Key: Hashable, Sendable {
    public var partner: String?
    public var status: JobState
  }

  private let state = Mutex(Snapshot())

  public init() {}

  /// A job reached `success` or `failed`.
  func finished(_ job: Job) {
    state.withLock { $0.finished[Key(partner: job.record.partner, status: job.state), default: 0] += 1 }
  }

  /// A run ended with its file published: how long it took, its rows and bytes.
  func exported(partner: String?, seconds: Double, rows: Int, bytes: Int) {
    state.withLock {
      $0.durations.observe(seconds)
      $0.rows.observe(Double(rows))
      $0.bytes[partner, default: 0] += Int64(bytes)
    }
  }

  /// A delivery attempt ended as `outcome`.
  public func deliveryAttempted(_ outcome: String) {
    state.withLock { $0.deliveryAttempts[outcome, default: 0] += 1 }
  }

  /// A webhook attempt ended as `outcome`.
  public func webhookAttempted(_ outcome: String) {
    state.withLock { $0.webhookAttempts[outcome, default: 0] += 1 }
  }

  /// The drop folders were scanned (`overflow`: because inotify's queue overflowed).
  public func rescanned(overflow: Bool) {
    state.withLock {
      $0.rescans += 1
      if overflow { $0.overflows += 1 }
    }
  }

  public var snapshot: Snapshot { state.withLock { $0 } }
}
