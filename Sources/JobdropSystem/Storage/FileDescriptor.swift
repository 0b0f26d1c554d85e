#if canImport(Glibc)
  import Glibc
#endif

/// An open file descriptor with exactly one owner: it cannot be copied, it is closed when its owner
/// ends (`deinit`), and ``close()`` consumes it, so a descriptor closed twice, or used after its close
/// (when its number may already belong to another thread's file), does not compile.
public struct FileDescriptor: ~Copyable {
  /// The descriptor's number, for the system calls made on it while it is owned.
  public let raw: Int32

  /// Takes ownership of `raw`.
  public init(adopting raw: Int32) { self.raw = raw }

  deinit { Glibc.close(raw) }

  /// Gives up ownership: the caller closes the returned number (``BackgroundCloser`` does, on its thread).
  public consuming func relinquish() -> Int32 {
    let raw = self.raw
    discard self
    return raw
  }

  /// Closes the descriptor, reporting what `close(2)` says (on some file systems a write error only
  /// shows here). `path` is for the message.
  public consuming func close(path: @autoclosure () -> String) throws(FileSystemError) {
    let raw = self.raw
    discard self
    if Glibc.close(raw) != 0 && errno != EINTR {
      throw FileSystemError(operation: "close", path: path(), errno: errno)
    }
  }
}
