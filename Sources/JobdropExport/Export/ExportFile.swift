import JobdropCrypto
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The file an export is written to: a temp file next to its final name, counted and hashed as written.
///
/// Hashing and writing happen on a ``BackgroundWriter`` thread while rows are formatted. ``finish()``
/// (the end of the rows) waits for it; ``publish()`` fsyncs the file and renames it into place, so the
/// outbox only ever shows complete files; ``discard()`` removes it. After `publish` returns the file is
/// durable under its final name.
public final class ExportFile: ByteSink {
  /// The directory that will hold the file.
  public let directory: DirectoryHandle
  /// The final name.
  public let name: FileName
  private let temporary: FileName
  /// Open until the file is published or discarded.
  private var descriptor: FileDescriptor?
  private let digest = SHA256Digest()
  private let writer: BackgroundWriter
  /// Bytes written so far.
  public private(set) var byteCount = 0

  /// Creates the temp file for `name` in `directory` (mode 0644).
  public init(directory: DirectoryHandle, name: FileName) throws(FileSystemError) {
    self.directory = directory
    self.name = name
    self.temporary = AtomicWriter.temporaryName(for: name)
    let file = try directory.openFile(temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o644)
    if Umask.narrows(0o644) { _ = fchmod(file.raw, 0o644) }
    // The writer thread borrows the number; it is stopped before the descriptor is closed.
    writer = BackgroundWriter(
      descriptor: file.raw, path: directory.path + "/" + temporary.display, digest: digest)
    descriptor = consume file
  }

  deinit { discard() }

  /// Appends `bytes`.
  public func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    try writer.submit(bytes)
    byteCount += bytes.count
  }

  /// Appends `bytes` without copying them: the writer thread hashes and writes them where they are.
  public func write(lending bytes: UnsafeRawBufferPointer, returned: @escaping @Sendable () -> Void)
    throws(FileSystemError)
  {
    try writer.submit(lending: bytes, returned: returned)
    byteCount += bytes.count
  }

  /// Waits until every byte is written (the writer thread's, and the direct writes' tail), so that a
  /// write error (a full disk) fails the export that wrote it rather than its publication.
  public func finish() throws(FileSystemError) {
    try writer.finish()
  }

  /// Makes the file durable under its final name and returns its SHA-256 in hex.
  ///
  /// With `durable` off it is only renamed into place: the caller makes it durable with a flush of its
  /// file system (a group commit, ``GroupWrite``) before anything that points to it is.
  public func publish(durable: Bool = true) throws(FileSystemError) -> String {
    do {
      try writer.finish()
    } catch {
      discard()
      throw error
    }
    guard let file = descriptor.take() else {
      preconditionFailure("an export file is published once")
    }
    do {
      if durable { try syscall("fsync", directory.display(temporary)) { fsync(file.raw) } }
      try file.close(path: directory.display(temporary))
    } catch {
      try? directory.remove(temporary)
      throw error
    }
    do {
      try directory.rename(temporary, to: directory, as: name)
      if durable { try directory.sync() }
    } catch {
      try? directory.remove(temporary)
      throw error
    }
    return digest.finalize()
  }

  /// Removes the temp file.
  public func discard() {
    writer.stop()
    guard descriptor.take() != nil else { return }  // closed as the taken value ends
    try? directory.remove(temporary)
  }
}
