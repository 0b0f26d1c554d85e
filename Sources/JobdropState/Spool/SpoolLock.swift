import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The exclusive lock one jobdrop process holds on a spool (`flock` on `spool/lock`), for its lifetime.
// @unchecked: immutable after init (nothing to lock); the descriptor is only closed by deinit.
public final class SpoolLock: @unchecked Sendable {
  private let descriptor: FileDescriptor
  /// The spool folder this lock is for.
  let spoolPath: String

  /// Takes the lock or throws a ``SpoolLockError`` naming the process that holds it.
  init(directory: DirectoryHandle) throws {
    let name = FileName("lock")
    spoolPath = directory.path
    let file = try directory.openFile(name, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
    if flock(file.raw, LOCK_EX | LOCK_NB) != 0 {
      let code = errno
      var buffer = [UInt8](repeating: 0, count: 32)
      let count = pread(file.raw, &buffer, 32, 0)
      if code == EWOULDBLOCK {
        let holder = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
          .filter(\.isNumber)
        throw SpoolLockError(path: directory.path, holder: holder)
      }
      throw FileSystemError(operation: "flock", path: directory.display(name), errno: code)
    }
    let pid = Array("\(getpid())\n".utf8)
    _ = ftruncate(file.raw, 0)
    _ = pwrite(file.raw, pid, pid.count, 0)
    descriptor = file
  }
}

/// Another process is working the spool.
public struct SpoolLockError: Error, Sendable, CustomStringConvertible {
  public var path: String
  public var holder: String

  public var description: String {
    "another jobdrop\(holder.isEmpty ? "" : " (pid \(holder))") is already working the spool \(path)"
  }
}
