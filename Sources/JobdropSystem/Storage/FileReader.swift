#if canImport(Glibc)
  import Glibc
#endif

/// Reads whole small files (requests, status files) with a size limit.
public enum FileReader {
  /// Opens `name` in `directory` (`O_NOFOLLOW | O_NONBLOCK`) and reads at most `limit` bytes of it.
  public static func read(_ name: FileName, in directory: DirectoryHandle, limit: Int) throws(FileSystemError)
    -> [UInt8]
  {
    let descriptor = try directory.openFile(name, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    return try readAll(descriptor.raw, limit: limit, path: directory.display(name))
  }

  /// Opens the file at `path` and reads at most `limit` bytes of it.
  public static func read(path: String, limit: Int) throws(FileSystemError) -> [UInt8] {
    let raw = try syscall("open", path) { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
    let descriptor = FileDescriptor(adopting: raw)
    return try readAll(descriptor.raw, limit: limit, path: path)
  }

  /// Reads from `descriptor` until end of file or until `limit` bytes have been read.
  public static func readAll(_ descriptor: Int32, limit: Int, path: String) throws(FileSystemError) -> [UInt8]
  {
    var bytes: [UInt8] = []
    // Not zeroed first: a request is read twice per job (claim and retirement), and zeroing 64 KiB each
    // time was most of the cost of reading a small one.
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
    defer { chunk.deallocate() }
    while bytes.count < limit {
      let wanted = min(chunk.count, limit - bytes.count)
      let count = try syscall("read", path) { Glibc.read(descriptor, chunk.baseAddress, wanted) }
      if count == 0 { break }
      bytes += UnsafeRawBufferPointer(rebasing: chunk[..<count])
    }
    return bytes
  }
}
