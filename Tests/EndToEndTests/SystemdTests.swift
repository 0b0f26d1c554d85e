import Foundation
import Testing

/// jobdrop under systemd's eyes: the notify protocol read from a real datagram socket (as systemd's
/// own), the watchdog's silence when the intake is stuck, and the shipped unit as `systemd-analyze`
/// judges it.
@Suite(.timeLimit(.minutes(10))) struct SystemdTests {
  /// A datagram socket at `path` that reads what `jobdrop run` sends to `NOTIFY_SOCKET`.
  final class NotifySocket {
    let path: String
    private let socket: Int32
    private(set) var messages: [String] = []

    init(path: String) throws {
      self.path = path
      socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
      var address = sockaddr_un()
      address.sun_family = sa_family_t(AF_UNIX)
      withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
      }
      let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
      }
      try #require(bound == 0, "cannot bind \(path)")
    }

    deinit { close(socket) }

    /// Reads messages until `condition` holds on all read so far, or `timeout` seconds pass.
    @discardableResult
    func read(timeout: Double, until condition: ([String]) -> Bool = { _ in false }) -> [String] {
      let deadline = Date().addingTimeInterval(timeout)
      var buffer = [UInt8](repeating: 0, count: 4096)
      while !condition(messages) {
        let remaining = deadline.timeIntervalSinceNow
        if remaining <= 0 { break }
        var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(remaining * 1000)) > 0 else { continue }
        let count = recv(socket, &buffer, buffer.count, 0)
        if count > 0 { messages.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
      }
      return messages
    }
  }

  static func count(_ messages: [String], _ line: String) -> Int {
    messages.filter { $0.split(separator: "\n").contains { $0 == line } }.count
  }

  @Test func readyStatusWatchdogAndStoppingReachSystemd() throws {
    let sandbox = try Sandbox(orders: 20)
    let socket = try NotifySocket(path: sandbox.root + "/notify")
    let daemon = try RunningDaemon(
      sandbox, ["--grace", "0"], environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
    socket.read(timeout: 30) { SystemdTests.count($0, "READY=1") == 1 }
    // Pings every 200 ms (half the interval), each with the queue.
    let pinged = socket.read(timeout: 30) { SystemdTests.count($0, "WATCHDOG=1") >= 4 }
    #expect(SystemdTests.count(pinged, "WATCHDOG=1") >= 4, "\(pinged)")
    #expect(pinged.contains { $0.contains("STATUS=taking requests; 0 jobs pending or started") }, "\(pinged)")
    #expect(daemon.stop() == 0)
    let all = socket.read(timeout: 10) { SystemdTests.count($0, "STOPPING=1") == 1 }
    #expect(SystemdTests.count(all, "STOPPING=1") == 1, "\(all)")
    #expect(SystemdTests.count(all, "READY=1") == 1, "ready once: \(all)")
  }

  /// A debug build told to stall its intake (`JOBDROP_STALL=intake`) stops pinging the watchdog: systemd
  /// would restart it.
  @Test func aStalledIntakeFallsSilent() throws {
    let sandbox = try Sandbox(orders: 20)
    let socket = try NotifySocket(path: sandbox.root + "/notify")
    let daemon = try RunningDaemon(
      sandbox, ["--grace", "0"],
      environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000", "JOBDROP_STALL": "intake"])
    socket.read(timeout: 30) { SystemdTests.count($0, "READY=1") == 1 }
    // Ten intervals' worth of waiting: at most the one ping it sent before it stalled.
    let heard = socket.read(timeout: 2)
    #expect(SystemdTests.count(heard, "READY=1") == 1, "\(heard)")
    #expect(SystemdTests.count(heard, "WATCHDOG=1") <= 1, "a stuck intake still pings: \(heard)")
    daemon.stop(SIGKILL)
  }

  /// The shipped unit: `systemd-analyze verify` finds nothing wrong (with its binary where it says), and
  /// `systemd-analyze security` rates its exposure 2.0 or lower.
  @Test func theShippedUnitVerifiesAndIsSandboxed() throws {
    let sandbox = try Sandbox(orders: 1)
    let unit = try String(
      contentsOf: NginxTests.repository.appendingPathComponent("deploy/jobdrop.service"), encoding: .utf8)
    let path = sandbox.root + "/jobdrop.service"
    try unit.replacingOccurrences(of: "/usr/local/bin/jobdrop", with: Sandbox.binary)
      .write(toFile: path, atomically: true, encoding: .utf8)
    let verify = try Spawn.run("/usr/bin/systemd-analyze", ["verify", path])
    #expect(verify.status == 0 && verify.stderr.isEmpty, "\(verify.stdout)\(verify.stderr)")
    let security = try Spawn.run("/usr/bin/systemd-analyze", ["security", "--offline=true", path])
    let line = try #require(
      (security.stdout + security.stderr).split(separator: "\n").first {
        $0.contains("Overall exposure level")
      })
    let score = try #require(
      line.split(separator: " ").compactMap { Double($0) }.first, "no score in: \(line)")
    #expect(score <= 2.0, "\(line)")
  }
}
