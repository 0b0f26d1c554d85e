import JobdropSystem
import Logging
import ServiceLifecycle

#if canImport(Glibc)
  import Glibc
#endif

/// `--metrics-listen ADDR:PORT`: answers `GET /metrics` with the exposition (HTTP/1.0, one request a
/// connection, `Connection: close`), anything else with 404 or 405. Prometheus scrapes it every few
/// seconds; one thread is plenty, and a client that stalls is cut off after 5 s.
public struct MetricsServer: Service {
  let exposition: MetricsExposition
  let host: String
  let port: UInt16
  let logger: Logger

  public init(exposition: MetricsExposition, listen: (host: String, port: UInt16), logger: Logger) {
    self.exposition = exposition
    host = listen.host
    port = listen.port
    self.logger = logger
  }

  public func run() async throws {
    let listening = try MetricsServer.listen(host: host, port: port)
    logger.info("serving metrics", metadata: ["listen": "\(host):\(port)"])
    try await DedicatedThread.runService(
      name: "jobdrop-metrics-http", what: "metrics server", logger: logger,
      stop: { shutdown(listening, Int32(SHUT_RDWR)) }
    ) { [exposition] in
      defer { close(listening) }
      while true {
        let client = accept(listening, nil, nil)
        if client < 0 {
          if errno == EINTR || errno == ECONNABORTED { continue }
          return  // shut down
        }
        MetricsServer.answer(client, exposition)
        close(client)
      }
    }
  }

  /// Reads one request's head and answers it.
  static func answer(_ client: Int32, _ exposition: MetricsExposition) {
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var head: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while head.count < 16_384 {
      let count = recv(client, &buffer, buffer.count, 0)
      if count <= 0 { return }
      head += buffer[0..<count]
      if MetricsServer.endsHead(head, searchingFrom: head.count - count - 3) { break }
    }
    let line = String(decoding: head.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self).split(separator: " ")
    let (status, type, body): (String, String, String)
    if line.count >= 2 && line[0] != "GET" && line[0] != "HEAD" {
      (status, type, body) = ("405 Method Not Allowed", "text/plain", "GET /metrics\n")
    } else if line.count >= 2 && line[1].split(separator: "?").first == "/metrics" {
      (status, type, body) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", exposition.text())
    } else {
      (status, type, body) = ("404 Not Found", "text/plain", "jobdrop serves /metrics only\n")
    }
    let bytes = Array(body.utf8)
    let response =
      "HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
    var out = Array(response.utf8)
    if line.first != "HEAD" { out += bytes }
    var sent = 0
    while sent < out.count {
      let count = out[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if count <= 0 { return }
      sent += count
    }
  }

  /// Whether `bytes` holds the blank line that ends a request's head, at or after `start`.
  static func endsHead(_ bytes: [UInt8], searchingFrom start: Int) -> Bool {
    var index = max(0, start)
    while index + 3 < bytes.count {
      if bytes[index] == 0x0D && bytes[index + 1] == 0x0A && bytes[index + 2] == 0x0D
        && bytes[index + 3] == 0x0A
      {
        return true
      }
      index += 1
    }
    return false
  }

  /// A listening TCP socket on `host` (an IPv4 address) and `port`.
  static func listen(host: String, port: UInt16) throws -> Int32 {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard socket >= 0 else { throw ConfigurationError("--metrics-listen: cannot open a socket") }
    var yes: Int32 = 1
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
      close(socket)
      throw ConfigurationError("--metrics-listen: '\(host)' is not an IPv4 address")
    }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, Glibc.listen(socket, 16) == 0 else {
      let reason = String(cString: strerror(errno))
      close(socket)
      throw ConfigurationError("--metrics-listen: cannot listen on \(host):\(port): \(reason)")
    }
    return socket
  }
}
