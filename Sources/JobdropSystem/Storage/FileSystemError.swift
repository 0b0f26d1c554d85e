#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A failed file-system call: which call, on which path, and the `errno` behind it.
///
/// The description reads like `rename spool/pending/x.json -> spool/started/x.json: No such file or directory`.
public struct FileSystemError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The C function that failed, e.g. `open` or `rename`.
  public var operation: String
  /// The path (or `from -> to` pair) the call was made on.
  public var path: String
  /// The `errno` value the call left.
  public var errno: Int32

  public init(operation: String, path: String, errno: Int32) {
    self.operation = operation
    self.path = path
    self.errno = errno
  }

  /// The system's text for ``errno``.
  public var reason: String { String(cString: strerror(errno)) }

  public var description: String { "\(operation) \(path): \(reason)" }

  /// The disk or the system is short of something that may come back (space, quota, memory,
  /// descriptors) or failed an I/O: the step is worth trying again later, unlike `ENOENT` or `EACCES`.
  public var isTransient: Bool {
    [ENOSPC, EDQUOT, EIO, EAGAIN, ENOMEM, EMFILE, ENFILE, EINTR, EBUSY].contains(errno)
  }
}

/// Runs a system call, retrying on `EINTR`, and turns `-1` into a ``FileSystemError``.
///
/// Debug builds pass every call through ``FaultInjection`` first, which can fail it on purpose.
@discardableResult
@inline(__always)
package func syscall<R: BinaryInteger>(
  _ operation: String, _ path: @autoclosure () -> String, _ body: () -> R
) throws(FileSystemError) -> R {
  while true {
    if let injected = FaultInjection.injected(operation) {
      if injected == EINTR { continue }
      throw FileSystemError(operation: operation, path: path(), errno: injected)
    }
    let result = body()
    if result != -1 { return result }
    let code = errno
    if code == EINTR { continue }
    throw FileSystemError(operation: operation, path: path(), errno: code)
  }
}
