#if canImport(Glibc)
  import Glibc
#endif

/// Which file an entry is (device and inode), so code that read a file by one call can check that a later
/// call by name still meant the same file and not a replacement.
public struct FileIdentity: Hashable, Sendable, Codable {
  public var device: UInt64
  public var inode: UInt64

  public init(_ info: stat) {
    device = UInt64(info.st_dev)
    inode = UInt64(info.st_ino)
  }
}

/// An open descriptor on a file that keeps its inode alive (and so its identity unique) for as long as the
/// object lives; closed exactly once, when the last reference goes.
///
/// The intake holds one from the moment it reads a request until its claim has checked that the name
/// still means this file: while it is open, no new file can be given the same inode number.
// @unchecked: immutable after init (nothing to lock); the descriptor is closed once, by deinit.
public final class PinnedFile: @unchecked Sendable {
  private let owned: FileDescriptor
  /// The descriptor, opened `O_CLOEXEC`, for reads while the pin lives.
  package var descriptor: Int32 { owned.raw }
  /// The file's device and inode, from `fstat` on the descriptor.
  public let identity: FileIdentity
  /// The file's status at the time it was pinned.
  public let status: stat

  /// Takes ownership of `descriptor`; throws (closing it) when `fstat` fails.
  package init(adopting descriptor: consuming FileDescriptor, path: String) throws(FileSystemError) {
    var info = stat()
    if fstat(descriptor.raw, &info) != 0 {
      throw FileSystemError(operation: "fstat", path: path, errno: errno)
    }
    owned = descriptor
    status = info
    identity = FileIdentity(info)
  }
}
