import Foundation
import Testing

@testable import JobdropDaemon

/// The libcurl owner against real sockets on 127.0.0.1: what an answer, a refusal, a silence and an
/// oversized answer come to, each failure with its cause.
@Suite(.timeLimit(.minutes(10))) struct HTTPClientTests {
  /// A listening socket on 127.0.0.1 that accepts and then answers with `reply` (or never, with `nil`).
  final class Server {
    let port: Int
    private let socket: Int32
    private var thread: Thread?

    init(reply: String?) {
      let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      self.socket = socket
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      listen(socket, 4)
      var bound = sockaddr_in()
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      _ = withUnsafeMutablePointer(to: &bound) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
      }
      port = Int(UInt16(bigEndian: bound.sin_port))
      let listening = socket
      thread = Thread {
        let client = accept(listening, nil, nil)
        guard client >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 65536)
        _ = read(client, &buffer, buffer.count)
        if let reply { _ = reply.withCString { write(client, $0, strlen($0)) } } else { sleep(5) }
        close(client)
      }
      thread?.start()
    }

    deinit { close(socket) }
  }

  /// A GET of `port` on 127.0.0.1 with a 1 KiB answer limit.
  static func get(port: Int, timeoutSeconds: Int = 5) -> HTTPClient.Outcome {
    HTTPClient(userAgent: "test").send(
      method: "GET", url: "http://127.0.0.1:\(port)/", headers: [], body: .bytes([]), responseLimit: 1024,
      timeoutSeconds: timeoutSeconds)
  }

  /// Why `outcome` got no answer; records an issue and returns `nil` when it was answered.
  static func failure(_ outcome: HTTPClient.Outcome) -> HTTPClient.TransportFailure? {
    guard case .failed(let failure) = outcome else {
      Issue.record("answered: \(outcome)")
      return nil
    }
    return failure
  }

  @Test func anAnswerIsAnsweredWithItsStatusAndBody() {
    let server = Server(reply: "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    let outcome = HTTPClientTests.get(port: server.port, timeoutSeconds: 5)
    guard case .answered(let status, let body) = outcome else {
      Issue.record("no answer: \(outcome)")
      return
    }
    #expect(status == 201 && body == Array("ok".utf8))
  }

  @Test func aRefusedConnectionFailsWithCurlsCode() {
    // A port just bound and released: nobody listens there.
    let probe = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(probe, $0, length) == 0 && getsockname(probe, $0, &length) == 0
      }
    }
    close(probe)
    let outcome = HTTPClientTests.get(port: Int(UInt16(bigEndian: address.sin_port)))
    guard let failure = HTTPClientTests.failure(outcome) else { return }
    #expect(failure.cause == .curl(code: 7), "CURLE_COULDNT_CONNECT: \(failure)")
    #expect(failure.description == "Couldn't connect to server")
  }

  @Test func aServerThatNeverAnswersTimesOut() {
    let server = Server(reply: nil)
    let outcome = HTTPClientTests.get(port: server.port, timeoutSeconds: 1)
    guard let failure = HTTPClientTests.failure(outcome) else { return }
    #expect(failure.cause == .timedOut)
    #expect(failure.description == "no answer within 1 s")
  }

  @Test func anAnswerOverTheLimitFailsSayingSo() {
    let body = String(repeating: "x", count: 8192)
    let server = Server(reply: "HTTP/1.1 200 OK\r\nContent-Length: 8192\r\nConnection: close\r\n\r\n\(body)")
    let outcome = HTTPClientTests.get(port: server.port, timeoutSeconds: 5)
    guard let failure = HTTPClientTests.failure(outcome) else { return }
    #expect(failure.cause == .responseTooLarge(status: 200))
    #expect(failure.description == "HTTP 200 with a response body over 1 KiB")
  }
}
