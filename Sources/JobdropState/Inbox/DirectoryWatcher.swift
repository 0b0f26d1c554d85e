import CInotifyTools
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// One event, copied out of libinotifytools' static buffer.
public struct DirectoryEvent: Sendable, Equatable {
  public var mask: InotifyMask
  /// The watched directory the event is about (its path as given to the watcher).
  public var directory: String
  /// The entry's name; `nil` for events about the directory itself or the queue.
  public var name: FileName?
}

/// The one owner of libinotifytools in the process: watches directories and returns copied events.
///
/// The library keeps all its state in globals, so there is at most one watcher per process, and all
/// its calls must come from the one thread that created it (the daemon's watch thread).
public final class DirectoryWatcher {
  private nonisolated(unsafe) static var active = false
  private var paths: [Int32: String] = [:]

  /// Why a watch could not be set up.
  public struct Failure: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
  }

  /// Initializes libinotifytools and watches each of `directories` for `mask`; more can be added with
  /// ``watch(_:mask:)``.
  public init(directories: [String], mask: InotifyMask = .dropFolder) throws(Failure) {
    guard !DirectoryWatcher.active else { throw Failure(message: "a directory watcher is already running") }
    // libinotifytools waits with select(2), which aborts the process for a descriptor past FD_SETSIZE;
    // inotify's descriptor is the lowest free one, so look at that first and say so instead.
    let probe = open("/dev/null", O_RDONLY | O_CLOEXEC)
    if probe >= 0 { close(probe) }
    guard probe < 1024 else {
      throw Failure(
        message:
          "inotify: descriptor \(probe) is past FD_SETSIZE (1024); the process was started with about \(probe) open descriptors: start it without them"
      )
    }
    guard inotifytools_initialize() == 1 else {
      throw Failure(message: "inotify: cannot initialize: \(String(cString: strerror(inotifytools_error())))")
    }
    DirectoryWatcher.active = true
    for path in directories {
      do {
        try watch(path, mask: mask)
      } catch {
        inotifytools_cleanup()
        DirectoryWatcher.active = false
        throw error
      }
    }
  }

  /// Adds a watch on `path` for `mask`.
  public func watch(_ path: String, mask: InotifyMask = .dropFolder) throws(Failure) {
    guard inotifytools_watch_file(path, Int32(bitPattern: mask.rawValue)) == 1 else {
      throw Failure(
        message: "inotify: cannot watch \(path): \(String(cString: strerror(inotifytools_error())))")
    }
    paths[DirectoryWatcher.descriptor(of: path)] = path
  }

  /// The watch descriptor of `path` (libinotifytools keeps a directory's name with a trailing `/`).
  private static func descriptor(of path: String) -> Int32 {
    let wd = inotifytools_wd_from_filename(path)
    return wd >= 0 || path.hasSuffix("/") ? wd : inotifytools_wd_from_filename(path + "/")
  }

  /// Removes the watch on `path`; its events stop (an `IN_IGNORED` for it may still be read).
  public func unwatch(_ path: String) {
    let wd = DirectoryWatcher.descriptor(of: path)
    guard wd >= 0 else { return }
    _ = inotifytools_remove_watch_by_wd(wd)
    paths[wd] = nil
  }

  deinit {
    inotifytools_cleanup()
    DirectoryWatcher.active = false
  }

  /// The next event, waiting at most `timeoutSeconds` (at least 1); `nil` on timeout.
  ///
  /// Asks for one event at a time: `inotifytools_next_events` with more spins on the CPU.
  public func next(timeoutSeconds: Int) throws(Failure) -> DirectoryEvent? {
    guard let event = inotifytools_next_event(max(1, timeoutSeconds)) else {
      let code = inotifytools_error()
      if code == 0 || code == EINTR { return nil }
      throw Failure(message: "inotify: cannot read events: \(String(cString: strerror(code)))")
    }
    let mask = InotifyMask(rawValue: event.pointee.mask)
    let wd = event.pointee.wd
    var name: FileName?
    if event.pointee.len > 0 {
      var eventName: UnsafePointer<CChar>?
      var directoryLength = 0
      _ = inotifytools_filename_from_event(event, &eventName, &directoryLength)
      if let eventName {
        let bytes = UnsafeRawPointer(eventName).assumingMemoryBound(to: UInt8.self)
        name = FileName(bytes: Array(UnsafeBufferPointer(start: bytes, count: strlen(eventName))))
      }
    }
    return DirectoryEvent(mask: mask, directory: paths[wd] ?? "", name: name)
  }

  /// The kernel's limit on queued events (`/proc/sys/fs/inotify/max_queued_events`; the library's own
  /// getter reads a misspelled path).
  public static func maximumQueuedEvents() -> Int? {
    let descriptor = open("/proc/sys/fs/inotify/max_queued_events", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    guard let bytes = try? FileReader.readAll(descriptor, limit: 32, path: "max_queued_events") else {
      return nil
    }
    return Int(String(decoding: bytes, as: UTF8.self).filter(\.isNumber))
  }
}
