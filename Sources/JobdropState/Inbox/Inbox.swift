import JobdropModel
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The partners' drop folder: lists request names and reads them without ever opening through a
/// symlink, FIFO, device or directory.
// @unchecked: immutable (nothing to lock); DirectoryHandle calls are safe from any thread.
public final class Inbox: @unchecked Sendable {
  public let directory: DirectoryHandle

  /// Opens (creating when missing) the inbox at `path`.
  public init(path: String) throws(FileSystemError) {
    directory = try DirectoryHandle(path: path, create: true, mode: 0o755)
  }

  /// Names of `*.json` requests now in the inbox, in no particular order.
  public func requestNames() throws(FileSystemError) -> [FileName] {
    try directory.entries().filter { InboxEntryKind($0) == .request }
  }

  /// What reading an inbox entry found.
  public enum Content: Sendable {
    /// A regular file: its first bytes (up to the request limit plus one), when it last changed, and the
    /// file itself, pinned open so the claim can check that it takes this very file.
    case file(bytes: [UInt8], changedAt: Timestamp, pin: PinnedFile)
    /// A regular file this process may not read (`EACCES`), pinned with `O_PATH`: its mode and owner are
    /// in the pin's status, for the job's error.
    case unreadable(pin: PinnedFile)
    /// Not a regular file; the text says what it is (`symbolic link`, `FIFO`, …).
    case refused(String)
    /// It is no longer there.
    case gone
  }

  /// Reads `name` safely: `O_NOFOLLOW | O_NONBLOCK`, then `fstat` must say regular file.
  public func read(_ name: FileName) throws(FileSystemError) -> Content {
    guard let info = try directory.status(of: name) else { return .gone }
    if let kind = Inbox.refusal(info.st_mode) { return .refused(kind) }
    let pin: PinnedFile
    do {
      pin = try PinnedFile(
        adopting: try directory.openFile(name, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY),
        path: directory.display(name))
    } catch {
      if error.errno == ENOENT { return .gone }
      if error.errno == ELOOP { return .refused("symbolic link") }
      if error.errno == EACCES {
        // No read permission is needed to claim (a rename) or to pin the inode.
        guard
          let pathPin = try? PinnedFile(
            adopting: try directory.openPath(name),
            path: directory.display(name)),
          Inbox.refusal(pathPin.status.st_mode) == nil
        else { return .gone }
        return .unreadable(pin: pathPin)
      }
      throw error
    }
    if let kind = Inbox.refusal(pin.status.st_mode) { return .refused(kind) }
    let bytes = try FileReader.readAll(
      pin.descriptor, limit: RequestParser.maximumSize + 1, path: directory.display(name))
    var opened = stat()
    try syscall("fstat", directory.display(name)) { fstat(pin.descriptor, &opened) }
    let changed = max(Inbox.milliseconds(opened.st_mtim), Inbox.milliseconds(opened.st_ctim))
    return .file(bytes: bytes, changedAt: Timestamp(milliseconds: changed), pin: pin)
  }

  private static func milliseconds(_ time: timespec) -> Int64 {
    Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
  }

  private static func refusal(_ mode: mode_t) -> String? {
    switch mode & S_IFMT {
    case S_IFREG: nil
    case S_IFLNK: "symbolic link"
    case S_IFDIR: "directory"
    case S_IFIFO: "FIFO"
    case S_IFSOCK: "socket"
    case S_IFCHR, S_IFBLK: "device"
    default: "special file"
    }
  }
}
