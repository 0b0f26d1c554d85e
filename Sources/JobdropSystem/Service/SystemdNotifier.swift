import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Tells systemd how the service is doing (`sd_notify`'s protocol, by hand: one datagram of
/// `KEY=value` lines to the socket `NOTIFY_SOCKET` names): `READY=1` once the inbox is watched and
/// recovery is done, `STATUS=` with the queue, `WATCHDOG=1` from the loop that takes requests, and
/// `STOPPING=1` at shutdown. Without `NOTIFY_SOCKET` (not started by systemd) every call does nothing.
///
/// Written by hand rather than linking libsystemd: the protocol is a `sendto` of a few bytes, and the
/// library would be one more shared object on every machine that runs jobdrop.
public final class SystemdNotifier: Sendable {
  /// The socket's address, when systemd gave one.
  private let address: [UInt8]?
  /// Half the watchdog's interval (milliseconds), when systemd asked for pings.
  public let pingInterval: Int64?
  private let lastPing = Mutex<Int64>(0)

  /// The notifier of this process, from its environment.
  public static let shared = SystemdNotifier()

  init() {
    var address: [UInt8]?
    if let value = getenv("NOTIFY_SOCKET") {
      var bytes = Array(String(cString: value).utf8)
      // An abstract socket is written with a leading `@`.
      if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
      if !bytes.isEmpty && bytes.count < 108 { address = bytes }
    }
    self.address = address
    var interval: Int64?
    if address != nil, let usec = getenv("WATCHDOG_USEC").flatMap({ Int64(String(cString: $0)) }), usec > 0 {
      let pid = getenv("WATCHDOG_PID").flatMap { Int32(String(cString: $0)) }
      if pid == nil || pid == getpid() { interval = max(1, usec / 2_000) }
    }
    pingInterval = interval
  }

  /// Whether systemd listens.
  public var isActive: Bool { address != nil }

  /// Sends `message` (`KEY=value` lines); errors are ignored, as `sd_notify` callers do.
  public func send(_ message: String) {
    guard let address else { return }
    let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard socket >= 0 else { return }
    defer { close(socket) }
    var target = sockaddr_un()
    target.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &target.sun_path) { path in
      for (index, byte) in address.enumerated() { path[index] = byte }
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count + (address.first == 0 ? 0 : 1))
    let bytes = Array(message.utf8)
    _ = withUnsafePointer(to: &target) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
        bytes.withUnsafeBytes {
          sendto(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), pointer, length)
        }
      }
    }
  }

  /// `WATCHDOG=1` (with `status` as `STATUS=`) when half the watchdog's interval has passed since the
  /// last one; nothing when systemd asked for no pings.
  public func pingIfDue(status: () -> String) {
    guard let pingInterval else { return }
    let now = ConditionLock.monotonicMilliseconds()
    let due = lastPing.withLock { last in
      guard now - last >= pingInterval else { return false }
      last = now
      return true
    }
    if due { send("WATCHDOG=1\nSTATUS=\(status())") }
  }
}
