import CLinux

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Writes a large new file from its start past the page cache: bytes are gathered in an aligned block and
/// written with `O_DIRECT`, so the kernel neither copies them into its cache nor writes them back later,
/// and the `fsync` that publishes the file has little left to do. The tail that does not fill an aligned
/// block is written through the cache by ``finish()``.
///
/// The alignment is the one the kernel gives for the file (`statx` `STATX_DIOALIGN`, 512 bytes on most
/// disks), or the page size where it does not say. Where the file system takes no direct writes (it says
/// so, setting `O_DIRECT` fails, or an aligned write fails with `EINVAL`, as on some network and FUSE
/// file systems), or a direct write comes back short, the rest goes through the page cache, with
/// writeback started every ``writebackStep`` bytes so that the final `fsync` waits for the last few
/// megabytes only.
///
/// Used from one thread at a time.
public final class DirectAppender {
  /// The block gathered before each direct write.
  static let blockSize = 1 << 20
  /// Bytes written through the cache between two requests to start writeback.
  static let writebackStep = 8 << 20

  /// The alignment of direct writes' memory, file offsets and lengths.
  let alignment: Int
  private let descriptor: Int32
  private let path: String
  private let block: UnsafeMutableRawPointer
  /// Bytes gathered in `block`.
  private var staged = 0
  /// Whether the descriptor is `O_DIRECT` now.
  private var direct: Bool
  /// Bytes in the file, and the offset up to which writeback was started for those written through the
  /// cache.
  private var size = 0
  private var writebackStarted = 0

  /// Appends to `descriptor` (a file opened for writing, still empty), whose name errors give as `path`;
  /// direct writes aligned to `alignment` bytes (a power of two), by default the file system's.
  public init(descriptor: Int32, path: String, alignment: Int? = nil) {
    self.descriptor = descriptor
    self.path = path
    let reported = alignment ?? Int(jobdrop_direct_io_alignment(descriptor))
    self.alignment = reported > 0 ? reported : 4_096
    block = .allocate(byteCount: DirectAppender.blockSize, alignment: max(self.alignment, 4_096))
    let flags = fcntl(descriptor, F_GETFL)
    direct =
      reported != 0 && DirectAppender.blockSize % self.alignment == 0 && flags != -1
      && fcntl(descriptor, F_SETFL, flags | jobdrop_O_DIRECT) == 0
  }

  deinit { block.deallocate() }

  /// Whether the file is still written past the page cache (for tests).
  var writesDirectly: Bool { direct }

  /// Appends `bytes`.
  public func append(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while direct && offset < bytes.count {
      let count = min(DirectAppender.blockSize - staged, bytes.count - offset)
      (block + staged).copyMemory(from: base + offset, byteCount: count)
      staged += count
      offset += count
      if staged == DirectAppender.blockSize { try writeStaged() }
    }
    if offset < bytes.count {
      try writeCached(UnsafeRawBufferPointer(start: base + offset, count: bytes.count - offset))
    }
  }

  /// Writes what is gathered: its aligned part directly, the rest through the cache. Nothing is appended
  /// after.
  public func finish() throws(FileSystemError) {
    let tail = staged % alignment
    let whole = staged - tail
    staged = whole
    if whole > 0 { try writeStaged() }
    if tail > 0 {
      stopDirect()
      try writeCached(UnsafeRawBufferPointer(start: block + whole, count: tail))
    }
  }

  /// Writes the `staged` bytes (a multiple of `alignment`) directly, or what a refused or short direct
  /// write left through the cache; empties the block.
  private func writeStaged() throws(FileSystemError) {
    var done = 0
    while direct && done < staged {
      let written: Int
      do {
        written = try syscall("write", path) { Glibc.write(descriptor, block + done, staged - done) }
      } catch {
        guard error.errno == EINVAL else { throw error }
        stopDirect()
        break
      }
      done += written
      size += written
      writebackStarted = size
      // A short direct write (a full disk) may leave the file at an unaligned size: the rest goes through
      // the cache, where the next write reports why.
      if done < staged && (written == 0 || written % alignment != 0) { stopDirect() }
    }
    if done < staged { try writeCached(UnsafeRawBufferPointer(start: block + done, count: staged - done)) }
    staged = 0
  }

  private func writeCached(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    try AtomicWriter.writeAll(bytes, to: descriptor, path: path)
    size += bytes.count
    if size - writebackStarted >= DirectAppender.writebackStep {
      // Advisory: a failure here only means the final fsync does all the work.
      DirectoryHandle.startWriteback(
        descriptor, offset: Int64(writebackStarted), length: Int64(size - writebackStarted))
      writebackStarted = size
    }
  }

  /// Turns `O_DIRECT` off: what follows goes through the page cache.
  private func stopDirect() {
    direct = false
    let flags = fcntl(descriptor, F_GETFL)
    if flags != -1 { _ = fcntl(descriptor, F_SETFL, flags & ~jobdrop_O_DIRECT) }
  }
}
