#if canImport(Glibc)
  import Glibc
#endif

/// A port on 127.0.0.1 that refuses every connection for as long as this value lives: bound, never
/// listening, so no other program can take it meanwhile.
final class ClosedPort {
  let port: Int
  private let socket: Int32

  init() { (socket, port) = ClosedPort.loopbackSocket(listening: false) }

  /// A TCP socket bound to a free port on 127.0.0.1 (listening when asked), and the port.
  static func loopbackSocket(listening: Bool) -> (socket: Int32, port: Int) {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(socket, $0, length) == 0 && (!listening || listen(socket, 8) == 0)
          && getsockname(socket, $0, &length) == 0
      }
    }
    precondition(bound, "cannot bind a port on 127.0.0.1")
    return (socket, Int(UInt16(bigEndian: address.sin_port)))
  }

  deinit { close(socket) }
}
