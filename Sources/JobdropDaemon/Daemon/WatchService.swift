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
  /// The inbox folder: jobdrop exits if it is removed or replaced.
  let path: String
  /// The drop folders to watch (the inbox itself, or one per partner), followed as it changes.
  let folders: WatchList
  /// The partners file, whose folder is watched for its changes.
  let partnersFile: String?
  let mailbox: InboxMailbox
  let logger: Logger

  public init(path: String, folders: WatchList, partnersFile: String?, mailbox: InboxMailbox, logger: Logger)
  {
    self.path = path
    self.folders = folders
    self.partnersFile = partnersFile
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
      [path, folders, partnersFile, mailbox, logger] in
      let watcher = try DirectoryWatcher(directories: [])
      // The partners file is watched through its folder: editors replace it by a rename.
      let partnersFolder = partnersFile.map(WatchService.folder(of:))
      let partnersName = partnersFile.map { FileName(String($0.split(separator: "/").last ?? "")) }
      if let partnersFolder {
        do {
          try watcher.watch(partnersFolder, mask: [.closeWrite, .movedTo, .create, .onlyDirectory])
        } catch {
          logger.warning(
            "cannot watch the partners file's folder; its changes are seen by the 30 s rescan",
            metadata: ["error": "\(error)"])
        }
      }
      var watched: [String: String?] = [:]
      var version = -1
      /// Follows the list of folders: watches new ones (then asks for a scan: nothing dropped before the
      /// watch is missed), drops removed ones.
      func follow() throws {
        let snapshot = folders.snapshot()
        guard snapshot.version != version else { return }
        version = snapshot.version
        var added = false
        for (folder, partner) in snapshot.folders where watched[folder] == nil {
          try watcher.watch(folder)
          watched[folder] = partner
          added = true
        }
        for folder in watched.keys where snapshot.folders[folder] == nil {
          watcher.unwatch(folder)
          watched[folder] = nil
        }
        if added {
          logger.info(
            "watching the inbox",
            metadata: [
              "inbox": "\(path)", "folders": "\(watched.count)",
              "inotify.max_queued_events": "\(DirectoryWatcher.maximumQueuedEvents() ?? -1)",
            ])
          mailbox.post(.rescan(version == 1 ? "start" : "new folder"))
        }
      }
      try follow()
      // The inbox is watched and recovery was done before the services started: ready.
      SystemdNotifier.shared.send("READY=1\nSTATUS=taking requests")
      let identity = WatchService.identity(of: path)
      var nextCheck = ConditionLock.monotonicMilliseconds() + 1000
      while !control.isStopped {
        // The inbox held open by jobdrop gets no IN_DELETE_SELF when removed: compare it by inode too.
        if ConditionLock.monotonicMilliseconds() >= nextCheck {
          if WatchService.identity(of: path) != identity { throw InboxLost(path: path) }
          nextCheck = ConditionLock.monotonicMilliseconds() + 1000
        }
        try follow()
        guard let event = try watcher.next(timeoutSeconds: 1) else { continue }
        if event.mask.contains(.queueOverflow) {
          logger.warning("inotify queue overflowed; rescanning the inbox")
          mailbox.post(.rescan("queue overflow"))
          mailbox.post(.partnersChanged)
        } else if event.directory == partnersFolder && watched[event.directory] == nil {
          if event.name != nil && event.name == partnersName { mailbox.post(.partnersChanged) }
        } else if let partner = watched[event.directory] {
          if event.mask.directoryLost {
            throw InboxLost(path: event.directory)
          } else if let name = event.name, !event.mask.contains(.isDirectory) {
            let arrival: Arrival =
              event.mask.contains(.closeWrite)
              ? .closed
              : event.mask.contains(.movedTo) ? .moved : event.mask.contains(.modify) ? .written : .created
            mailbox.post(.look(partner: partner, name, arrival))
          }
        }
      }
    }
  }
}

extension WatchService {
  /// The folder part of `path` (`.` for a bare name).
  static func folder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
  }

  /// The device and inode `path` names now, or `nil` when it does not exist.
  static func identity(of path: String) -> [UInt64]? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return [UInt64(info.st_dev), UInt64(info.st_ino)]
  }
}
