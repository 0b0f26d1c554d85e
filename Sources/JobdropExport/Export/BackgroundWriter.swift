import JobdropCrypto
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Hashes and writes an export's bytes on a second thread while the caller formats the next rows.
///
/// ``submit(_:)`` copies the bytes into one of a few fixed buffers and returns; the writer thread runs
/// SHA-256 and `write(2)` on them in order. Memory is the buffers, whatever the export's size. The
/// first write error is reported by the next ``submit(_:)`` or by ``finish()``.
/// ``submit(lending:returned:)`` queues the caller's own bytes instead (a parallel export's formatted
/// slice), with no copy: the thread hands them back through `returned` once written.
///
/// The thread writes past the page cache (``DirectAppender``): the kernel then neither copies the bytes
/// into its cache nor writes them back later (system time of the 1,000,000-row export 0.17 → 0.12 s), a
/// large export does not push other files out of the cache, and the `fsync` that publishes the file
/// waits for its last block only.
///
/// The thread and the buffers are made only when needed: a small export (one piece, written by
/// ``finish()``) is hashed and written on the caller's thread, with one buffer. In a burst of small jobs
/// a thread per export (its start, the hand-overs and four megabytes of buffers) cost more than the
/// export.
// @unchecked: the buffer hand-over state is only touched under `lock` (a ConditionLock, not a Mutex: threads wait on it for a change).
final class BackgroundWriter: @unchecked Sendable {
  static let bufferSize = 1 << 20
  static let bufferCount = 4

  private let descriptor: Int32
  private let path: String
  private let digest: SHA256Digest
  private let lock = ConditionLock()
  private var free: [UnsafeMutableRawPointer] = []
  /// How many buffers were allocated (at most ``bufferCount``).
  private var allocated = 0
  private var filled: [Piece] = []
  private var stopping = false
  private var failure: FileSystemError?
  private var thread: JoinableThread?
  /// What the thread writes with (made by the thread; used by ``finish()`` once the thread is joined).
  private var appender: DirectAppender?
  /// Whether ``finish()`` returned: everything is written.
  private var finished = false

  init(descriptor: Int32, path: String, digest: SHA256Digest) {
    self.descriptor = descriptor
    self.path = path
    self.digest = digest
  }

  /// Starts the writer thread for what is queued, unless it runs; call with the lock held. The first
  /// piece waits for a second one (or for ``finish()``, which writes it itself).
  private func startThreadIfQueued() {
    guard thread == nil, filled.count > 1 || (filled.count == 1 && filled[0].returned != nil) else { return }
    // Unretained: the thread is joined in `stop()`, which `deinit` calls before anything is freed.
    thread = JoinableThread(name: "jobdrop-write") { [unowned(unsafe) self] in self.loop() }
  }

  /// A free buffer, allocating one while fewer than ``bufferCount`` exist; `nil` when all are in use.
  /// Call with the lock held.
  private func takeBuffer() -> UnsafeMutableRawPointer? {
    if let buffer = free.popLast() { return buffer }
    guard allocated < BackgroundWriter.bufferCount else { return nil }
    allocated += 1
    return UnsafeMutableRawPointer.allocate(byteCount: BackgroundWriter.bufferSize, alignment: 64)
  }

  /// Bytes waiting to be written: in one of the writer's own buffers (`returned` is `nil`), or lent by
  /// the caller until `returned` is called.
  private struct Piece {
    let start: UnsafeRawPointer
    let count: Int
    let returned: (@Sendable () -> Void)?
  }

  deinit {
    stop()
    recycle(filled).forEach { $0() }
    free.forEach { $0.deallocate() }
  }

  /// Queues `bytes` for hashing and writing (in pieces of at most one buffer).
  func submit(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    var offset = 0
    while offset < bytes.count {
      let count = min(BackgroundWriter.bufferSize, bytes.count - offset)
      let buffer: UnsafeMutableRawPointer = try lock.withLock { () throws(FileSystemError) in
        while true {
          if let failure { throw failure }
          if let buffer = takeBuffer() { return buffer }
          lock.wait(untilMilliseconds: nil)
        }
      }
      buffer.copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
      lock.withLock {
        filled.append(Piece(start: buffer, count: count, returned: nil))
        startThreadIfQueued()
      }
      lock.broadcast()
      offset += count
    }
  }

  /// Queues `bytes` for hashing and writing where they are; `returned` is called once they are written
  /// (or dropped after a write error). The caller bounds how much it lends.
  func submit(lending bytes: UnsafeRawBufferPointer, returned: @escaping @Sendable () -> Void)
    throws(FileSystemError)
  {
    guard let base = bytes.baseAddress, !bytes.isEmpty else {
      returned()
      return
    }
    let failed: FileSystemError? = lock.withLock {
      if let failure { return failure }
      filled.append(Piece(start: base, count: bytes.count, returned: returned))
      startThreadIfQueued()
      return nil
    }
    if let failed {
      returned()
      throw failed
    }
    lock.broadcast()
  }

  /// Waits until everything submitted is written (writing it here when no thread was needed); throws
  /// the first write error. Again after it returned, does nothing; after it threw, throws again.
  func finish() throws(FileSystemError) {
    if finished { return }
    let unstarted: Piece? = lock.withLock { thread == nil ? filled.first : nil }
    if let piece = unstarted {
      // One piece of the caller's own and no thread: written here.
      let bytes = UnsafeRawBufferPointer(start: piece.start, count: piece.count)
      digest.update(bytes)
      let error: FileSystemError? = write(bytes, direct: false)
      lock.withLock {
        filled.removeAll()
        free.append(UnsafeMutableRawPointer(mutating: piece.start))
        if let error { failure = error }
      }
    }
    try lock.withLock { () throws(FileSystemError) in
      while !filled.isEmpty && failure == nil { lock.wait(untilMilliseconds: nil) }
      if let failure { throw failure }
    }
    stop()
    do {
      try appender?.finish()
    } catch {
      lock.withLock { failure = error }
      throw error
    }
    finished = true
  }

  /// Writes `bytes` at the end of the file: through the page cache for the one piece of a small export,
  /// past it (``DirectAppender``) on the thread; returns the error instead of throwing it.
  private func write(_ bytes: UnsafeRawBufferPointer, direct: Bool) -> FileSystemError? {
    do {
      if direct {
        if appender == nil { appender = DirectAppender(descriptor: descriptor, path: path) }
        try appender?.append(bytes)
      } else {
        try AtomicWriter.writeAll(bytes, to: descriptor, path: path)
      }
    } catch {
      return error
    }
    return nil
  }

  /// Stops the thread (dropping what is queued) and waits for it.
  func stop() {
    lock.withLock { stopping = true }
    lock.broadcast()
    thread?.join()
  }

  private func loop() {
    while true {
      let next: Piece? = lock.withLock {
        while filled.isEmpty && !stopping { lock.wait(untilMilliseconds: nil) }
        return filled.first
      }
      guard let piece = next else { return }
      let count = piece.count
      let bytes = UnsafeRawBufferPointer(start: piece.start, count: count)
      digest.update(bytes)
      let error = write(bytes, direct: true)
      let returns = lock.withLock {
        var done = [filled.removeFirst()]
        if let error {
          if failure == nil { failure = error }
          done += filled
          filled.removeAll()
        }
        return recycle(done)
      }
      // Outside the lock: an owner takes its own lock to take its bytes back.
      returns.forEach { $0() }
      lock.broadcast()
    }
  }

  /// Puts written or dropped pieces in own buffers back on the free list (under `lock`); returns the
  /// calls that give lent pieces back to their owners.
  private func recycle(_ pieces: [Piece]) -> [@Sendable () -> Void] {
    var returns: [@Sendable () -> Void] = []
    for piece in pieces {
      if let returned = piece.returned {
        returns.append(returned)
      } else {
        free.append(UnsafeMutableRawPointer(mutating: piece.start))
      }
    }
    return returns
  }
}
