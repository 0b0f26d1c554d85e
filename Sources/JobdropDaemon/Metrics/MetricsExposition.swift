import JobdropState
import JobdropSystem

/// The Prometheus text format (version 0.0.4) of what jobdrop is doing, written by hand: a few dozen
/// lines every few seconds, where swift-metrics with swift-prometheus would add two packages (and their
/// build time) to pass the same numbers through a registry.
///
/// Label values are partner ids only (never a token, a file name or a job id): a partner's series stay
/// few whatever its jobs are called.
public struct MetricsExposition: Sendable {
  let workspace: Workspace
  /// When the process started (seconds since the epoch).
  let started: Timestamp

  public init(workspace: Workspace, started: Timestamp) {
    self.workspace = workspace
    self.started = started
  }

  /// The whole exposition, as of now.
  public func text() -> String {
    var out = MetricsText()
    let store = workspace.store
    let snapshot = store.metrics.snapshot
    let now = store.clock.now()

    out.header("jobdrop_build_info", "gauge", "The running build; the value is always 1.")
    out.sample("jobdrop_build_info", ["version": JobdropVersion.current], 1)
    out.header(
      "jobdrop_start_time_seconds", "gauge", "When this process started, in seconds since the epoch.")
    out.sample("jobdrop_start_time_seconds", [:], Double(started.milliseconds) / 1000)

    out.header("jobdrop_jobs_total", "counter", "Jobs that reached a final status since the process started.")
    for (key, count) in snapshot.finished.sorted(by: {
      ($0.key.partner ?? "", $0.key.status.rawValue) < ($1.key.partner ?? "", $1.key.status.rawValue)
    }) {
      out.sample(
        "jobdrop_jobs_total", MetricsText.partner(key.partner, ["status": key.status.rawValue]), Double(count)
      )
    }

    // Every partner served (or the one inbox) has its series, zero when it has nothing waiting.
    var queues = store.queueStates()
    for partner in workspace.intakes.partners?.list.ids ?? [] where queues[partner] == nil {
      queues[partner] = (0, 0, nil)
    }
    if workspace.intakes.partners == nil && queues[nil] == nil { queues[nil] = (0, 0, nil) }
    let sorted = queues.sorted { ($0.key ?? "") < ($1.key ?? "") }
    out.header("jobdrop_jobs", "gauge", "Jobs pending or started now.")
    for (partner, state) in sorted {
      out.sample("jobdrop_jobs", MetricsText.partner(partner, ["state": "pending"]), Double(state.pending))
      out.sample("jobdrop_jobs", MetricsText.partner(partner, ["state": "started"]), Double(state.started))
    }
    out.header(
      "jobdrop_oldest_pending_job_age_seconds", "gauge",
      "How long the oldest pending job has waited (0: none waits).")
    for (partner, state) in sorted {
      let age = state.oldestPending.map { Double(max(0, now.milliseconds - $0.milliseconds)) / 1000 } ?? 0
      out.sample("jobdrop_oldest_pending_job_age_seconds", MetricsText.partner(partner, [:]), age)
    }

    out.histogram(
      "jobdrop_job_duration_seconds", "How long a successful job ran, from start to its file published.",
      snapshot.durations)
    out.histogram("jobdrop_job_rows", "Rows in a successful job's export.", snapshot.rows)
    out.header("jobdrop_export_bytes_total", "counter", "Bytes of export files published.")
    for (partner, bytes) in snapshot.bytes.sorted(by: { ($0.key ?? "") < ($1.key ?? "") }) {
      out.sample("jobdrop_export_bytes_total", MetricsText.partner(partner, [:]), Double(bytes))
    }

    out.header("jobdrop_webhook_backlog", "gauge", "Webhook events waiting to be delivered.")
    out.sample("jobdrop_webhook_backlog", [:], Double(workspace.webhooks?.waiting ?? 0))
    out.header(
      "jobdrop_webhook_attempts_total", "counter",
      "Webhook delivery attempts by outcome: delivered, failed (retried), given_up (after 24 h).")
    for outcome in ["delivered", "failed", "given_up"] {
      out.sample(
        "jobdrop_webhook_attempts_total", ["outcome": outcome], Double(snapshot.webhookAttempts[outcome] ?? 0)
      )
    }
    out.header(
      "jobdrop_delivery_attempts_total", "counter",
      "Attempts to push exports into partners' storage, by outcome.")
    for outcome in ["delivered", "failed", "given_up"] {
      out.sample(
        "jobdrop_delivery_attempts_total", ["outcome": outcome],
        Double(snapshot.deliveryAttempts[outcome] ?? 0))
    }
    out.header("jobdrop_delivery_backlog", "gauge", "Deliveries waiting to be made.")
    out.sample("jobdrop_delivery_backlog", [:], Double(workspace.deliveries?.waiting ?? 0))
    out.header("jobdrop_publish_backlog", "gauge", "Outbox files waiting to be published to the bucket.")
    out.sample("jobdrop_publish_backlog", [:], Double(workspace.mirror?.waiting ?? 0))
    out.header(
      "jobdrop_inbox_rescans_total", "counter", "Scans of the drop folders (start, every 30 s, overflows).")
    out.sample("jobdrop_inbox_rescans_total", [:], Double(snapshot.rescans))
    out.header(
      "jobdrop_inotify_overflows_total", "counter",
      "Times inotify's queue overflowed (each followed by a scan).")
    out.sample("jobdrop_inotify_overflows_total", [:], Double(snapshot.overflows))
    out.header("jobdrop_schedules", "gauge", "Standing requests (schedules) registered.")
    out.sample("jobdrop_schedules", [:], Double(workspace.schedules.all.count))
    return out.text
  }
}

/// Lines of the text format, escaped as it says.
struct MetricsText {
  private(set) var text = ""

  mutating func header(_ name: String, _ type: String, _ help: String) {
    text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
  }

  mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
    text += name
    if !labels.isEmpty {
      text +=
        "{"
        + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(MetricsText.escape($0.value))\"" }
        .joined(separator: ",") + "}"
    }
    text += " \(MetricsText.format(value))\n"
  }

  mutating func histogram(_ name: String, _ help: String, _ histogram: JobMetrics.Histogram) {
    header(name, "histogram", help)
    for (bound, count) in zip(histogram.bounds, histogram.counts) {
      sample(name + "_bucket", ["le": MetricsText.format(bound)], Double(count))
    }
    sample(name + "_bucket", ["le": "+Inf"], Double(histogram.count))
    sample(name + "_sum", [:], histogram.sum)
    sample(name + "_count", [:], Double(histogram.count))
  }

  /// `labels` with `partner` when the jobs have one.
  static func partner(_ partner: String?, _ labels: [String: String]) -> [String: String] {
    var labels = labels
    if let partner { labels["partner"] = partner }
    return labels
  }

  static func escape(_ value: String) -> String {
    var escaped = ""
    for character in value {
      switch character {
      case "\\": escaped += "\\\\"
      case "\"": escaped += "\\\""
      case "\n": escaped += "\\n"
      default: escaped.append(character)
      }
    }
    return escaped
  }

  static func format(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
  }
}
