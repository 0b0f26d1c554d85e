import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The file an export is written to: a temp file next to its final name, counted and hashed as written.
///
/// Hashing and writing happen on a ``BackgroundWriter`` thread while rows are formatted. ``publish()``
/// waits for it, fsyncs the file and renames it into place, so the outbox only ever shows complete files;
/// ``discard()`` removes it. After `publish` returns the file is durable under its final name.
public final class ExportFile: ByteSink {
  /// The directory that will hold the file.
  public let directory: DirectoryHandle
  /// The final name.
  public let name: FileName
  private let temporary: FileName
  private let descriptor: Int32
  private let digest = SHA256Digest()
  private let writer: BackgroundWriter
  private var closed = false
  /// Bytes written so far.
  public private(set) var byteCount = 0

  /// Creates the temp file for `name` in `directory` (mode 0644).
  public init(directory: DirectoryHandle, name: FileName) throws(FileSystemError) {
    self.directory = directory
    self.name = name
    self.temporary = AtomicWriter.temporaryName(for: name)
    self.descriptor = try directory.openFile(
      temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o644)
    _ = fchmod(descriptor, 0o644)
    writer = BackgroundWriter(
      descriptor: descriptor, path: directory.path + "/" + temporary.display, digest: digest)
  }

  deinit {
    writer.stop()
    if !closed {
      close(descriptor)
      try? directory.remove(temporary)
    }
  }

  /// Appends `bytes`.
  public func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    try writer.submit(bytes)
    byteCount += bytes.count
  }

  /// Makes the file durable under its final name and returns its SHA-256 in hex.
  public func publish() throws(FileSystemError) -> String {
    do {
      try writer.finish()
    } catch {
      discard()
      throw error
    }
    try syscall("fsync", directory.display(temporary)) { fsync(descriptor) }
    close(descriptor)
    closed = true
    do {
      try directory.rename(temporary, to: directory, as: name)
      try directory.sync()
    } catch {
      try? directory.remove(temporary)
      throw error
    }
    return digest.finalize()
  }

  /// Removes the temp file.
  public func discard() {
    writer.stop()
    guard !closed else { return }
    close(descriptor)
    closed = true
    try? directory.remove(temporary)
  }
}
