import JobdropSystem

/// Bytes kept in memory until their turn to be written: one slice of a parallel export.
// @unchecked: a buffer has one user at a time: the connection formatting a slice into it, then the
// writer thread writing it; ``SQLiteSliceScan``'s queue hands it over under its lock.
final class ChunkBuffer: ByteSink, @unchecked Sendable {
  private(set) var storage: UnsafeMutableRawPointer
  private(set) var count = 0
  private var capacity: Int

  init(capacity: Int = 1 << 20) {
    self.capacity = capacity
    storage = .allocate(byteCount: capacity, alignment: 64)
  }

  deinit { storage.deallocate() }

  var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

  func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    if count + bytes.count > capacity {
      capacity = max(capacity * 2, count + bytes.count)
      let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
      grown.copyMemory(from: storage, byteCount: count)
      storage.deallocate()
      storage = grown
    }
    if let base = bytes.baseAddress { (storage + count).copyMemory(from: base, byteCount: bytes.count) }
    count += bytes.count
  }

  func finish() throws(FileSystemError) {}

  /// Empties the buffer, keeping its memory for the next slice.
  func removeAll() { count = 0 }
}
