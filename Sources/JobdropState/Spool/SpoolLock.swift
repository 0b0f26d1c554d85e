import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The exclusive lock one jobdrop process holds on a spool (`flock` on `spool/lock`), for its lifetime.
public final class SpoolLock: @unchecked Sendable {
  private let descriptor: Int32
  /// The spool folder this lock is for.
  let spoolPath: String

  /// Takes the lock or throws a ``SpoolLockError`` naming the process that holds it.
  init(directory: DirectoryHandle) throws {
    let name = FileName("lock")
    spoolPath = directory.path
    descriptor = try directory.openFile(name, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
    if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
      let code = errno
      var buffer = [UInt8](repeating: 0, count: 32)
      let count = pread(descriptor, &buffer, 32, 0)
      close(descriptor)
      if code == EWOULDBLOCK {
        let holder = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
          .filter(\.isNumber)
        throw SpoolLockError(path: directory.path, holder: holder)
      }
      throw FileSystemError(operation: "flock", path: directory.display(name), errno: code)
    }
    let pid = Array("\(getpid())\n".utf8)
    _ = ftruncate(descriptor, 0)
    _ = pwrite(descriptor, pid, pid.count, 0)
  }

  deinit { close(descriptor) }
}

/// Another process is working the spool.
public struct SpoolLockError: Error, Sendable, CustomStringConvertible {
  public var path: String
  public var holder: String

  public var description: String {
    "another jobdrop\(holder.isEmpty ? "" : " (pid \(holder))") is already working the spool \(path)"
  }
}
