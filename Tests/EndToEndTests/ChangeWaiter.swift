import Foundation
import Testing

/// Waits for a condition on files to become true, woken by inotify events on the folders involved
/// (not by sleeping), with an overall time limit.
final class ChangeWaiter {
  private let descriptor: Int32

  /// Watches `folders` (created if missing) for entries being written, renamed in, or removed.
  init(folders: [String]) throws {
    descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
    precondition(descriptor >= 0)
    for folder in folders {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE)
      precondition(inotify_add_watch(descriptor, folder, mask) >= 0)
    }
  }

  deinit { close(descriptor) }

  /// Returns once `condition` holds, re-checking it after every batch of events; `false` after `timeout`.
  @discardableResult
  func wait(timeout: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
      if try condition() { return true }
      let remaining = deadline.timeIntervalSinceNow
      if remaining <= 0 { return false }
      var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
      // Wake at least every 250 ms so a condition that changed in an unwatched folder is seen too.
      _ = poll(&poller, 1, Int32(min(remaining, 0.25) * 1000))
      while read(descriptor, &buffer, buffer.count) > 0 {}
    }
  }
}
