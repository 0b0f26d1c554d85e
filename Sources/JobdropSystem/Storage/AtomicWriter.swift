import CLinux
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The one way jobdrop replaces a file: temp file in the same directory, `fsync`, `rename`, `fsync` directory.
///
/// After ``write(_:to:in:mode:syncDirectory:)`` returns, the new content is durable under its final name,
/// and a reader never sees a partial file. Temp names start with `.` so listings and web servers skip
/// them. Files that are rebuilt from the spool at every start (the outbox's JSON documents) skip the
/// directory sync, and the file's fsync (`syncFile: false`): they are views of the spool, whose every
/// change is durable before they are written, and the next start writes again any that a crash left
/// short (ext4 also flushes a file renamed over another before the rename commits, `auto_da_alloc`).
public enum AtomicWriter {
  /// The prefix of every temp file jobdrop creates; such files are never published or read as jobs.
  public static let temporaryPrefix = ".tmp-"

  /// Replaces `name` in `directory` with `bytes`, durably.
  public static func write(
    _ bytes: some Collection<UInt8>, to name: FileName, in directory: DirectoryHandle, mode: mode_t = 0o644,
    syncDirectory: Bool = true, syncFile: Bool = true, freeReplacedInBackground: Bool = false,
    beforeRename: () -> Void = {}
  ) throws {
    try replace(
      name, in: directory, mode: mode, syncDirectory: syncDirectory, syncFile: syncFile,
      freeReplacedInBackground: freeReplacedInBackground, beforeRename: beforeRename
    ) { descriptor, path in
      try writeAll(bytes, to: descriptor, path: path)
    }
  }

  /// Like ``write(_:to:in:mode:syncDirectory:syncFile:freeReplacedInBackground:beforeRename:)``, with
  /// the content given in `parts`, written in order with `writev` straight from them: a large document
  /// made of cached pieces is never assembled in memory, and the kernel sees one large write (on ext4 an
  /// 11 MB file written in 73 KB `write`s took twice as long as in one call).
  ///
  /// A file of 1 MiB or more has its blocks allocated before it is written (`fallocate`, where the file
  /// system has it): ext4 flushes a file renamed over another at the rename if its blocks are still to be
  /// allocated (`auto_da_alloc`), which made replacing an 11 MB `index.json` take 10 ms instead of 3.
  public static func write(
    parts: [ArraySlice<UInt8>], to name: FileName, in directory: DirectoryHandle, mode: mode_t = 0o644,
    syncDirectory: Bool = true, syncFile: Bool = true, freeReplacedInBackground: Bool = false,
    beforeRename: () -> Void = {}
  ) throws {
    try replace(
      name, in: directory, mode: mode, syncDirectory: syncDirectory, syncFile: syncFile,
      freeReplacedInBackground: freeReplacedInBackground, beforeRename: beforeRename
    ) { descriptor, path in
      let total = parts.reduce(0) { $0 + $1.count }
      if total >= 1 << 20 { _ = jobdrop_allocate(descriptor, Int64(total)) }
      var start = 0
      while start < parts.count {
        let end = min(parts.count, start + gatherLimit)
        var vectors: [iovec] = []
        vectors.reserveCapacity(end - start)
        try gather(parts, from: start, to: end, into: &vectors) { vectors in
          try writeAll(vectors, to: descriptor, path: path)
        }
        start = end
      }
    }
  }

  /// The most parts one `writev` takes (`IOV_MAX` is 1,024 on Linux).
  private static let gatherLimit = 1_024

  /// Calls `body` with an `iovec` for each of `parts[start..<end]`, each pointing into its part while
  /// `body` runs (one nested borrow per part).
  private static func gather(
    _ parts: [ArraySlice<UInt8>], from index: Int, to end: Int, into vectors: inout [iovec],
    _ body: ([iovec]) throws -> Void
  ) throws {
    guard index < end else { return try body(vectors) }
    try parts[index].withUnsafeBytes { bytes in
      if let base = bytes.baseAddress, bytes.count > 0 {
        vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: base), iov_len: bytes.count))
      }
      try gather(parts, from: index + 1, to: end, into: &vectors, body)
    }
  }

  /// Writes every byte `vectors` point to, in order, retrying short writes and `EINTR`.
  private static func writeAll(_ vectors: [iovec], to descriptor: Int32, path: String) throws(FileSystemError)
  {
    var vectors = vectors[...]
    while !vectors.isEmpty {
      var written = try syscall("write", path) {
        vectors.withUnsafeBufferPointer { Glibc.writev(descriptor, $0.baseAddress, Int32($0.count)) }
      }
      // A short write: drop what went out and go on from the first byte that did not.
      while written > 0, let vector = vectors.first, written >= vector.iov_len {
        written -= vector.iov_len
        vectors = vectors.dropFirst()
      }
      if written > 0 {
        vectors[vectors.startIndex].iov_base += written
        vectors[vectors.startIndex].iov_len -= written
      }
    }
  }

  /// The one replace: a temp file `content` fills, fsync (unless `syncFile` is off), rename, folder
  /// sync (unless `syncDirectory` is off); the temp file is removed if any step fails.
  ///
  /// With `freeReplacedInBackground`, the file it replaces is opened before the rename and closed by
  /// ``BackgroundCloser``: freeing its blocks (a wait for the device's discard, on a file system mounted
  /// with `discard`) is then not paid here. For a large file replaced often (`index.json`).
  private static func replace(
    _ name: FileName, in directory: DirectoryHandle, mode: mode_t, syncDirectory: Bool, syncFile: Bool,
    freeReplacedInBackground: Bool, beforeRename: () -> Void,
    content: (_ descriptor: Int32, _ path: String) throws -> Void
  ) throws {
    let temporary = temporaryName(for: name)
    let descriptor = try directory.openFile(
      temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: mode)
    do {
      // The descriptor is closed exactly once, here or by its deinit when a step throws.
      let path = directory.display(temporary)
      try content(descriptor.raw, path)
      if Umask.narrows(mode) { _ = fchmod(descriptor.raw, mode) }
      if syncFile { try syscall("fsync", path) { fsync(descriptor.raw) } }
      try descriptor.close(path: path)
      beforeRename()
      // O_NONBLOCK: whatever the name is now (a FIFO put there), opening it never waits.
      let replaced =
        freeReplacedInBackground
        ? try? directory.openFile(name, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK) : nil
      try directory.rename(temporary, to: directory, as: name)
      if let replaced { BackgroundCloser.shared.close(replaced) }
      if syncDirectory { try directory.sync() }
    } catch {
      try? directory.remove(temporary)
      throw error
    }
  }

  /// Like ``write(_:to:in:mode:syncDirectory:syncFile:freeReplacedInBackground:beforeRename:)``, but
  /// leaves the file alone when it already holds exactly `bytes` (a restart republishing thousands of
  /// unchanged documents then costs reads, not fsyncs). Returns whether it wrote.
  @discardableResult
  public static func writeIfChanged(
    _ bytes: [UInt8], to name: FileName, in directory: DirectoryHandle, mode: mode_t = 0o644,
    syncDirectory: Bool = true, syncFile: Bool = true
  ) throws -> Bool {
    if let info = try? directory.status(of: name), (info.st_mode & S_IFMT) == S_IFREG,
      Int(info.st_size) == bytes.count,
      let existing = try? FileReader.read(name, in: directory, limit: bytes.count + 1), existing == bytes
    {
      return false
    }
    try write(bytes, to: name, in: directory, mode: mode, syncDirectory: syncDirectory, syncFile: syncFile)
    return true
  }

  /// Replaces `name` in `directory` with a second name of the file `source` in `sourceDirectory` (a hard
  /// link under a temp name, renamed into place: no new file, and the replaced one is freed only once
  /// none of its names is left), without syncing (for views of the spool). Where the file system cannot
  /// link it (`EXDEV`, `EMLINK`, `EPERM`), `bytes` (the source's content) are written instead.
  ///
  /// `name` must not already be a name of `source` (the rename would then leave the temp name).
  public static func replace(
    _ name: FileName, in directory: DirectoryHandle, withLinkTo source: FileName,
    in sourceDirectory: DirectoryHandle, bytes: [UInt8]
  ) throws {
    let temporary = temporaryName(for: name)
    do {
      try sourceDirectory.link(source, to: directory, as: temporary)
    } catch {
      guard error.errno == EXDEV || error.errno == EMLINK || error.errno == EPERM else { throw error }
      return try write(bytes, to: name, in: directory, syncDirectory: false, syncFile: false)
    }
    do {
      try directory.rename(temporary, to: directory, as: name)
    } catch {
      try? directory.remove(temporary)
      throw error
    }
  }

  /// A temp name for `name`, unique per process and call.
  public static func temporaryName(for name: FileName) -> FileName {
    let serial = counter.add(1, ordering: .relaxed).newValue
    return FileName(bytes: Array("\(temporaryPrefix)\(processID)-\(serial)-".utf8) + name.bytes.prefix(180))
  }

  /// This process's id, for temp names (a process that forks does not write files).
  private static let processID = getpid()

  /// Writes every byte of `bytes` to `descriptor`, retrying short writes and `EINTR`.
  public static func writeAll(_ bytes: some Collection<UInt8>, to descriptor: Int32, path: String) throws {
    let written: Void? = try bytes.withContiguousStorageIfAvailable {
      try writeAll(UnsafeRawBufferPointer($0), to: descriptor, path: path)
    }
    if written == nil {
      try Array(bytes).withUnsafeBytes { try writeAll($0, to: descriptor, path: path) }
    }
  }

  /// Writes every byte of `buffer` to `descriptor`, retrying short writes and `EINTR`.
  public static func writeAll(_ buffer: UnsafeRawBufferPointer, to descriptor: Int32, path: String)
    throws(FileSystemError)
  {
    var offset = 0
    while offset < buffer.count {
      let written = try syscall("write", path) {
        Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
      }
      offset += written
    }
  }

  private static let counter = Atomic<Int>(0)
}
