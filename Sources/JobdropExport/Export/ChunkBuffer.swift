import JobdropSystem

/// Bytes kept in memory until their turn to be written: one slice of a parallel export.
// @unchecked: a buffer has one user at a time: the connection formatting a slice into it, then the
// writer thread writing it; ``SQLiteSliceScan``'s queue hands it over under its lock (nothing to lock here).
final class ChunkBuffer: InPlaceSink, @unchecked Sendable {
  private(set) var storage: UnsafeMutableRawPointer
  private(set) var count = 0
  private var capacity: Int

  /// A buffer grows to its slice's size (about a megabyte for a slice of a large table) and keeps it for
  /// the next; it starts small, so that a small export does not ask the system for memory.
  init(capacity: Int = 64 << 10) {
    self.capacity = capacity
    storage = .allocate(byteCount: capacity, alignment: 64)
  }

  deinit { storage.deallocate() }

  var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

  func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    grow(toHold: bytes.count)
    if let base = bytes.baseAddress { (storage + count).copyMemory(from: base, byteCount: bytes.count) }
    count += bytes.count
  }

  /// Makes room for `more` bytes after what it holds (doubling, at least).
  private func grow(toHold more: Int) {
    guard count + more > capacity else { return }
    capacity = max(capacity * 2, count + more)
    let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    grown.copyMemory(from: storage, byteCount: count)
    storage.deallocate()
    storage = grown
  }

  func finish() throws(FileSystemError) {}

  /// All the room after what it holds (at least `minimum` bytes).
  func room(atLeast minimum: Int) -> UnsafeMutableRawBufferPointer {
    grow(toHold: minimum)
    return UnsafeMutableRawBufferPointer(start: storage + count, count: capacity - count)
  }

  func commit(_ count: Int) { self.count += count }

  /// Empties the buffer, keeping its memory for the next slice.
  func removeAll() { count = 0 }
}
