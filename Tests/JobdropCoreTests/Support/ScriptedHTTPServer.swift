import Foundation
import Synchronization

/// A listening socket on 127.0.0.1 that answers each connection with the next of its `replies` (the last
/// one again once they run out; `nil` for silence) and keeps what each request sent. Stopped with the
/// value (its socket closed, its thread ends at the next accept).
final class ScriptedHTTPServer: Sendable {
  let port: Int
  private let socket: Int32
  private let received = Received()

  /// The requests received so far, whole (head and body), oldest first.
  var requests: [String] { received.all.withLock { $0 } }

  private final class Received: Sendable {
    let all = Mutex<[String]>([])
  }

  init(replies: [String?]) {
    let (socket, port) = ClosedPort.loopbackSocket(listening: true)
    self.socket = socket
    self.port = port
    let received = received
    Thread { [received] in
      var served = 0
      while true {
        let client = accept(socket, nil, nil)
        guard client >= 0 else {
          // Shut down (deinit): the socket is closed here, by the only thread that uses it, so its
          // number is never another server's while this thread may still accept on it.
          close(socket)
          return
        }
        let request = ScriptedHTTPServer.readRequest(client)
        received.all.withLock { $0.append(request) }
        let reply = replies.isEmpty ? nil : replies[min(served, replies.count - 1)]
        served += 1
        if let reply { _ = reply.withCString { write(client, $0, strlen($0)) } } else { sleep(5) }
        close(client)
      }
    }.start()
  }

  deinit {
    shutdown(socket, Int32(SHUT_RDWR))  // the accepting thread closes it
  }

  /// A reply of `status` with no body, closing the connection.
  static func status(_ status: Int) -> String {
    "HTTP/1.1 \(status) Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
  }

  /// Reads one request: its head, then as many body bytes as its `Content-Length` says.
  private static func readRequest(_ client: Int32) -> String {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = read(client, &buffer, buffer.count)
      if count <= 0 { break }
      bytes += buffer[0..<count]
      let text = String(decoding: bytes, as: UTF8.self)
      guard let end = text.range(of: "\r\n\r\n") else { continue }
      let head = text[..<end.lowerBound].lowercased()
      let length =
        head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
      if text.utf8.count - text[..<end.upperBound].utf8.count >= length { break }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
