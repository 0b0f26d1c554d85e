import JobdropState
import JobdropSystem
import Logging
import ServiceLifecycle

#if canImport(Glibc)
  import Glibc
#endif

/// Watches the inbox with libinotifytools on its own thread and posts what it sees to the intake.
///
/// The watch is added before the first scan is requested, so nothing dropped during start-up is missed;
/// a queue overflow asks for a full rescan. If the inbox is deleted or replaced the service fails, the
/// daemon exits non-zero, and the supervisor (systemd) restarts it on the new folder.
public struct WatchService: Service {
  let path: String
  let mailbox: InboxMailbox
  let logger: Logger

  public init(path: String, mailbox: InboxMailbox, logger: Logger) {
    self.path = path
    self.mailbox = mailbox
    self.logger = logger
  }

  /// The inbox disappeared or was replaced while watched.
  public struct InboxLost: Error, CustomStringConvertible {
    public var path: String
    public var description: String {
      "the inbox \(path) was removed or replaced; exiting so that the supervisor restarts jobdrop on the new folder"
    }
  }

  public func run() async throws {
    let control = ThreadControl()
    try await DedicatedThread.runService(
      name: "jobdrop-watch", what: "watcher", logger: logger, stop: control.stop
    ) {
      [path, mailbox, logger] in
      let watcher = try DirectoryWatcher(directories: [path])
      logger.info(
        "watching the inbox",
        metadata: [
          "inbox": "\(path)", "inotify.max_queued_events": "\(DirectoryWatcher.maximumQueuedEvents() ?? -1)",
        ])
      mailbox.post(.rescan("start"))
      let identity = WatchService.identity(of: path)
      var nextCheck = ConditionLock.monotonicMilliseconds() + 1000
      while !control.isStopped {
        // The inbox held open by jobdrop gets no IN_DELETE_SELF when removed: compare it by inode too.
        if ConditionLock.monotonicMilliseconds() >= nextCheck {
          if WatchService.identity(of: path) != identity { throw InboxLost(path: path) }
          nextCheck = ConditionLock.monotonicMilliseconds() + 1000
        }
        guard let event = try watcher.next(timeoutSeconds: 1) else { continue }
        if event.mask.contains(.queueOverflow) {
          logger.warning("inotify queue overflowed; rescanning the inbox")
          mailbox.post(.rescan("queue overflow"))
        } else if event.mask.directoryLost {
          throw InboxLost(path: path)
        } else if let name = event.name, !event.mask.contains(.isDirectory) {
          let arrival: Arrival =
            event.mask.contains(.closeWrite)
            ? .closed
            : event.mask.contains(.movedTo) ? .moved : event.mask.contains(.modify) ? .written : .created
          mailbox.post(.look(name, arrival))
        }
      }
    }
  }
}

extension WatchService {
  /// The device and inode `path` names now, or `nil` when it does not exist.
  static func identity(of path: String) -> [UInt64]? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return [UInt64(info.st_dev), UInt64(info.st_ino)]
  }
}
