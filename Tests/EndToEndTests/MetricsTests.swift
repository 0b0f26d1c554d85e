import Foundation
import Testing

/// `--metrics FILE`: the Prometheus text format, read back by prometheus_client's parser after a
/// scripted workload, with exact counts.
@Suite(.timeLimit(.minutes(10))) struct MetricsTests {
  struct Sample {
    var name: String
    var labels: [String: String]
    var value: Double
  }

  static func samples(_ path: String) throws -> [Sample] {
    let script = NginxTests.repository.appendingPathComponent("Tests/Metrics/parse.py").path
    let result = try Spawn.run("/usr/bin/env", ["python3", script, path])
    try #require(result.status == 0, "prometheus_client could not parse it: \(result.stderr)")
    return result.stdout.split(separator: "\n").compactMap { line in
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        return nil
      }
      return Sample(
        name: object["name"] as! String, labels: object["labels"] as? [String: String] ?? [:],
        value: (object["value"] as? NSNumber)?.doubleValue ?? .nan)
    }
  }

  static func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
    samples.first { $0.name == name && $0.labels == labels }?.value
  }

  @Test func aWorkloadsJobsAreCountedExactlyByStatusWithTheirRowsAndBytes() throws {
    let sandbox = try Sandbox(orders: 300)
    let path = sandbox.root + "/metrics/jobdrop.prom"
    try FileManager.default.createDirectory(
      atPath: sandbox.root + "/metrics", withIntermediateDirectories: true)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--grace", "0", "--metrics", path])
    sandbox.drop("paid.json", Sandbox.request(filter: "eq(payment,paid)"))
    sandbox.drop("all.json", Sandbox.request())
    sandbox.drop("bad.json", Sandbox.request(filter: "eq(colour,red)"))
    #expect(
      waiter.wait {
        let jobs = sandbox.jobsByFile()
        return ["paid.json", "all.json", "bad.json"].allSatisfy {
          ["success", "failed"].contains(jobs[$0]?.first?["status"] as? String ?? "")
        }
      }, "\(daemon.log)")
    #expect(daemon.stop() == 0)  // the last write is made at shutdown
    let samples = try MetricsTests.samples(path)
    #expect(MetricsTests.value(samples, "jobdrop_jobs_total", ["status": "success"]) == 2)
    #expect(MetricsTests.value(samples, "jobdrop_jobs_total", ["status": "failed"]) == 1)
    #expect(MetricsTests.value(samples, "jobdrop_job_duration_seconds_count") == 2)
    #expect(MetricsTests.value(samples, "jobdrop_job_duration_seconds_bucket", ["le": "+Inf"]) == 2)
    let jobs = sandbox.jobDocuments().filter { $0["status"] as? String == "success" }
    let meta = jobs.map { $0["meta"] as! [String: Any] }
    let rows = meta.map { ($0["rows"] as! NSNumber).doubleValue }.reduce(0, +)
    let bytes = meta.map { ($0["bytes"] as! NSNumber).doubleValue }.reduce(0, +)
    #expect(MetricsTests.value(samples, "jobdrop_job_rows_sum") == rows)
    #expect(MetricsTests.value(samples, "jobdrop_job_rows_count") == 2)
    #expect(MetricsTests.value(samples, "jobdrop_export_bytes_total") == bytes)
    #expect(MetricsTests.value(samples, "jobdrop_build_info", ["version": "0.3.0"]) == 1)
    #expect((MetricsTests.value(samples, "jobdrop_start_time_seconds") ?? 0) > 1_700_000_000)
    #expect(MetricsTests.value(samples, "jobdrop_webhook_backlog") == 0)
    #expect(MetricsTests.value(samples, "jobdrop_webhook_attempts_total", ["outcome": "delivered"]) == 0)
    #expect(MetricsTests.value(samples, "jobdrop_publish_backlog") == 0)
    #expect((MetricsTests.value(samples, "jobdrop_inbox_rescans_total") ?? 0) >= 1, "the start's scan")
    #expect(MetricsTests.value(samples, "jobdrop_inotify_overflows_total") == 0)
    #expect(
      !samples.contains { $0.labels.values.contains { $0.hasSuffix(".json") } }, "no file name as a label")
  }

  @Test func aPartnersQueueIsLabelledWithItsIdOnly() throws {
    let sandbox = try Sandbox(orders: 20)
    let options = try PartnersTests.serve(sandbox)
    let path = sandbox.root + "/jobdrop.prom"
    try PartnersTests.drop(sandbox, "acme", "a.json", Sandbox.request())
    try PartnersTests.drop(sandbox, "globex", "g.json", Sandbox.request(filter: "eq(colour,red)"))
    let daemon = try RunningDaemon(sandbox, options + ["--grace", "0", "--metrics", path, "--workers", "1"])
    let waiter = try ChangeWaiter(folders: [sandbox.root])
    #expect(
      waiter.wait {
        let samples = (try? MetricsTests.samples(path)) ?? []
        return MetricsTests.value(samples, "jobdrop_jobs_total", ["partner": "acme", "status": "success"])
          == 1
          && MetricsTests.value(samples, "jobdrop_jobs_total", ["partner": "globex", "status": "failed"]) == 1
      }, "\(daemon.log)")
    #expect(daemon.stop() == 0)
    let samples = try MetricsTests.samples(path)
    #expect(
      MetricsTests.value(samples, "jobdrop_jobs_total", ["partner": "globex", "status": "failed"]) == 1)
    #expect(MetricsTests.value(samples, "jobdrop_jobs_total", ["partner": "acme", "status": "success"]) == 1)
    #expect(Set(samples.compactMap { $0.labels["partner"] }).isSubset(of: ["acme", "globex", "initech"]))
    let tokens = [PartnersTests.acmeToken, PartnersTests.globexToken]
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(!tokens.contains { text.contains($0) }, "no token in the metrics")
  }

  /// `--metrics-listen`: the same exposition at `/metrics` over HTTP, as Prometheus scrapes it; any other
  /// path is a 404.
  @Test func theMetricsAreServedOverHTTP() throws {
    let sandbox = try Sandbox(orders: 20)
    let port = SFTPTests.SSHServer.freePort()
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--grace", "0", "--metrics-listen", "127.0.0.1:\(port)"])
    sandbox.drop("a.json", Sandbox.request())
    #expect(
      waiter.wait { sandbox.jobsByFile()["a.json"]?.first?["status"] as? String == "success" },
      "\(daemon.log)")
    let path = sandbox.root + "/scraped.prom"
    let scrape = try Spawn.run(
      "/usr/bin/curl",
      ["-s", "-o", path, "-w", "%{http_code} %{content_type}", "http://127.0.0.1:\(port)/metrics"])
    #expect(
      scrape.stdout == "200 text/plain; version=0.0.4; charset=utf-8", "\(scrape.stdout) \(scrape.stderr)")
    let samples = try MetricsTests.samples(path)
    #expect(MetricsTests.value(samples, "jobdrop_jobs_total", ["status": "success"]) == 1)
    let other = try Spawn.run(
      "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"])
    #expect(other.stdout == "404")
    #expect(daemon.stop() == 0)
  }

  /// The Grafana dashboard in deploy/ names only metrics jobdrop emits (a dashboard that drifts from the
  /// exposition shows empty panels without an error).
  @Test func theGrafanaDashboardNamesOnlyMetricsJobdropEmits() throws {
    let sandbox = try Sandbox(orders: 20)
    let path = sandbox.root + "/jobdrop.prom"
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(sandbox, ["--grace", "0", "--metrics", path])
    sandbox.drop("a.json", Sandbox.request())
    #expect(waiter.wait { sandbox.jobsByFile()["a.json"]?.first?["status"] as? String == "success" })
    #expect(daemon.stop() == 0)
    let emitted = Set(try MetricsTests.samples(path).map(\.name))
    let dashboard = try String(
      contentsOf: NginxTests.repository.appendingPathComponent("deploy/grafana-dashboard.json"),
      encoding: .utf8)
    let named = Set(
      dashboard.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }).map(String.init)
        .filter { $0.hasPrefix("jobdrop_") })
    #expect(named.count >= 9, "\(named)")
    #expect(named.subtracting(emitted).isEmpty, "not emitted: \(named.subtracting(emitted).sorted())")
  }
}
