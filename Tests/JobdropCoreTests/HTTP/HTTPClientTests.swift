import Foundation
import Testing

@testable import JobdropDaemon

/// The libcurl owner against real sockets on 127.0.0.1: what an answer, a refusal, a silence and an
/// oversized answer come to, each failure with its cause.
@Suite(.timeLimit(.minutes(10))) struct HTTPClientTests {
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
    let server = ScriptedHTTPServer(replies: [
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    ])
    let outcome = HTTPClientTests.get(port: server.port, timeoutSeconds: 5)
    guard case .answered(let status, let body) = outcome else {
      Issue.record("no answer: \(outcome)")
      return
    }
    #expect(status == 201 && body == Array("ok".utf8))
  }

  @Test func aRefusedConnectionFailsWithCurlsCode() {
    let closed = ClosedPort()
    let outcome = HTTPClientTests.get(port: closed.port)
    guard let failure = HTTPClientTests.failure(outcome) else { return }
    #expect(failure.cause == .curl(code: 7), "CURLE_COULDNT_CONNECT: \(failure)")
    #expect(failure.description == "Couldn't connect to server")
  }

  @Test func aServerThatNeverAnswersTimesOut() {
    let server = ScriptedHTTPServer(replies: [nil])
    let outcome = HTTPClientTests.get(port: server.port, timeoutSeconds: 1)
    guard let failure = HTTPClientTests.failure(outcome) else { return }
    #expect(failure.cause == .timedOut)
    #expect(failure.description == "no answer within 1 s")
  }

  @Test func anAnswerOverTheLimitFailsSayingSo() {
    let body = String(repeating: "x", count: 8192)
    let server = ScriptedHTTPServer(replies: [
      "HTTP/1.1 200 OK\r\nContent-Length: 8192\r\nConnection: close\r\n\r\n\(body)"
    ])
    let outcome = HTTPClientTests.get(port: server.port, timeoutSeconds: 5)
    guard let failure = HTTPClientTests.failure(outcome) else { return }
    #expect(failure.cause == .responseTooLarge(status: 200))
    #expect(failure.description == "HTTP 200 with a response body over 1 KiB")
  }
}
