import Foundation
import JobdropCrypto
import JobdropExport
import Testing

/// The shipped `deploy/nginx.conf` in front of a real outbox: a real nginx on 127.0.0.1.
@Suite(.timeLimit(.minutes(10))) struct NginxTests {
  /// The repository's root folder.
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent()

  /// An nginx master process serving `outbox` with the repository's server block.
  final class Nginx {
    let pid: pid_t
    let port: Int
    let prefix: String

    /// The repository's `deploy/nginx.conf`, listening on a free port of 127.0.0.1 and serving `outbox`.
    convenience init(outbox: String, directory: String) throws {
      let port = SFTPTests.SSHServer.freePort()
      var server = try String(
        contentsOf: NginxTests.repository.appendingPathComponent("deploy/nginx.conf"), encoding: .utf8)
      try #require(server.contains("listen 8080;") && server.contains("root /srv/jobdrop/outbox;"))
      server = server.replacingOccurrences(of: "listen 8080;", with: "listen 127.0.0.1:\(port);")
        .replacingOccurrences(of: "root /srv/jobdrop/outbox;", with: "root \(outbox);")
      try self.init(include: server, port: port, directory: directory)
    }

    /// `include` (a server block, with what goes before it in http { }) in an nginx of its own on `port`,
    /// with the njs module loaded.
    init(include server: String, port: Int, directory: String) throws {
      try #require(
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx"),
        "nginx is not installed (make test installs it)")
      prefix = directory + "/nginx"
      try FileManager.default.createDirectory(atPath: prefix + "/tmp", withIntermediateDirectories: true)
      self.port = port
      let config = """
        load_module /usr/lib/nginx/modules/ngx_http_js_module.so;
        daemon off;
        worker_processes 1;
        pid \(prefix)/nginx.pid;
        error_log \(prefix)/error.log;
        events { worker_connections 64; }
        http {
          access_log off;
          client_body_temp_path \(prefix)/tmp/body;
          proxy_temp_path \(prefix)/tmp/proxy;
          fastcgi_temp_path \(prefix)/tmp/fastcgi;
          uwsgi_temp_path \(prefix)/tmp/uwsgi;
          scgi_temp_path \(prefix)/tmp/scgi;
        \(server)
        }
        """
      try config.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
      pid = try Spawn.start(
        "/usr/sbin/nginx", ["-p", prefix, "-c", prefix + "/nginx.conf", "-e", prefix + "/error.log"],
        stdoutPath: prefix + "/stdout.log", stderrPath: prefix + "/stderr.log")
      let deadline = Date().addingTimeInterval(15)
      while !SFTPTests.SSHServer.accepts(port: port) && Date() < deadline && kill(pid, 0) == 0 {
        usleep(20_000)
      }
      let log = (try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? ""
      try #require(SFTPTests.SSHServer.accepts(port: port), "nginx did not start: \(log)")
    }

    deinit {
      kill(pid, SIGTERM)
      _ = Spawn.wait(pid)
    }

    struct Response {
      var status: Int
      var headers: [String: String]
      var body: Data
    }

    /// Fetches `path` with curl; `arguments` are more of curl's (headers, a form, a user).
    func get(_ path: String, method: String = "GET", _ arguments: [String] = []) throws -> Response {
      let bodyPath = prefix + "/body-\(UUID().uuidString)"
      defer { try? FileManager.default.removeItem(atPath: bodyPath) }
      let output = try Spawn.run(
        "/usr/bin/curl",
        ["-s", "-X", method, "-D", "-", "-o", bodyPath] + arguments + ["http://127.0.0.1:\(port)\(path)"])
      let lines = output.stdout.split(separator: "\r\n")
      let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
      var headers: [String: String] = [:]
      for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
          in: .whitespaces)
      }
      return Response(
        status: status, headers: headers, body: FileManager.default.contents(atPath: bodyPath) ?? Data())
    }
  }

  @Test func servesTheOutboxAndTheElasticPathPaths() throws {
    let sandbox = try Sandbox(orders: 400)
    sandbox.drop("plain.json", Sandbox.request(filter: "eq(payment,paid)"))
    sandbox.drop("packed.json", Sandbox.request(extra: #", "format": "csv.gz""#))
    sandbox.drop("broken.json", "{")
    try sandbox.process(["--settle", "10ms"])
    let nginx = try Nginx(outbox: sandbox.outbox, directory: sandbox.root)

    let index = try nginx.get("/index.json")
    #expect(index.status == 200)
    #expect(index.headers["content-type"] == "application/json; charset=utf-8")
    #expect(index.headers["cache-control"] == "no-cache")
    #expect(index.body == (try sandbox.outboxFile("index.json")))
    let jobs = try nginx.get("/v2/jobs")
    #expect(jobs.status == 200 && jobs.body == index.body)
    #expect(jobs.headers["content-type"] == "application/json; charset=utf-8")

    let plain = try sandbox.job(file: "plain.json")
    let id = try #require(plain["id"] as? String)
    let job = try nginx.get("/v2/jobs/\(id)")
    #expect(job.status == 200)
    #expect(job.body == (try sandbox.outboxFile("jobs/\(id).json")))
    #expect(job.headers["cache-control"] == "no-cache")
    let link = try nginx.get("/v2/jobs/\(id)/file")
    #expect(link.status == 200)
    let href = try #require(
      ((try JSONSerialization.jsonObject(with: link.body) as? [String: Any])?["data"] as? [String: Any])?[
        "href"] as? String)
    #expect(href == (plain["link"] as? [String: Any])?["href"] as? String)
    let csv = try nginx.get("/" + href)
    #expect(csv.status == 200)
    #expect(csv.body == (try sandbox.outboxFile(href)))
    #expect(csv.headers["content-type"] == "text/csv; charset=utf-8")
    #expect(csv.headers["cache-control"] == "public, max-age=604800, immutable")

    let packed = try sandbox.job(file: "packed.json")
    let packedHref = try #require((packed["link"] as? [String: Any])?["href"] as? String)
    let gz = try nginx.get("/" + packedHref)
    #expect(gz.status == 200)
    #expect(gz.headers["content-type"] == "application/gzip")
    #expect(gz.headers["content-encoding"] == nil)
    #expect(gz.body == (try sandbox.outboxFile(packedHref)))
    #expect(SHA256Digest.hex(of: Array(gz.body)) == (packed["meta"] as? [String: Any])?["sha256"] as? String)

    // A partner finds its job by the name it dropped.
    let byName = try nginx.get("/requests/plain.json")
    #expect(byName.status == 200)
    #expect(byName.body == job.body)

    // Unknown jobs, failed jobs' files, other paths: Elastic Path's 404 body.
    let unknown = try nginx.get("/v2/jobs/00000000-0000-4000-8000-000000000000")
    #expect(unknown.status == 404)
    #expect(unknown.headers["content-type"] == "application/json; charset=utf-8")
    let errors =
      (try JSONSerialization.jsonObject(with: unknown.body) as? [String: Any])?["errors"] as? [[String: Any]]
    #expect(errors?.first?["status"] as? Int == 404)
    #expect(errors?.first?["title"] as? String == "Resource Not Found")
    let failed = try #require(try sandbox.job(file: "broken.json")["id"] as? String)
    #expect(try nginx.get("/v2/jobs/\(failed)/file").status == 404)
    #expect(try nginx.get("/v2/jobs/not-a-job").status == 404)

    // Temp files are never served; the site is read-only.
    try Data("partial".utf8).write(to: URL(fileURLWithPath: sandbox.outbox + "/jobs/.tmp-1-1-x.json"))
    #expect(try nginx.get("/jobs/.tmp-1-1-x.json").status == 404)
    let post = try nginx.get("/index.json", method: "POST")
    #expect(post.status == 405)
    #expect(String(decoding: post.body, as: UTF8.self).contains("\"status\":405"))
  }
}
