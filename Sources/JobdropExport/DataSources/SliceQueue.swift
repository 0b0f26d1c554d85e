import JobdropSystem

/// The slices still to read, the buffers free to read them into, and the finished slices waiting for
/// their turn to be written; the first error of any connection stops them all.
// @unchecked: the slice numbers and the finished buffers are only touched under `lock` (a ConditionLock, not a Mutex: threads wait on it for a change).
final class SliceQueue: @unchecked Sendable {
  private let lock = ConditionLock()
  /// The export's writer, which writes the slices its ``RowWriter/sliceWriter(into:)`` writers formatted.
  private let writer: any RowWriter
  private var claimed = 0
  private var nextToWrite = 0
  /// Buffers written and emptied, ready for the next slice.
  private var free: [ChunkBuffer] = []
  /// Buffers made so far, and the most there may be: one is made only when a slice finds none free, so a
  /// small export (one slice) makes one.
  private var made = 0
  private let buffers: Int
  private var finished: [Int: (buffer: ChunkBuffer, rows: Int)] = [:]
  private var rows = 0
  private var failure: (any Error)?

  init(buffers: Int, writer: any RowWriter) {
    self.writer = writer
    self.buffers = buffers
  }

  /// The next slice (its number, and what `next` makes of it, under the lock so that slices are
  /// numbered in the order they are made) and an empty buffer for it; `nil` when none is left or the
  /// scan stopped.
  func claim<Slice>(next: () throws -> Slice?) throws -> (Int, Slice, ChunkBuffer)? {
    try lock.withLock { () throws -> (Int, Slice, ChunkBuffer)? in
      while free.isEmpty && made == buffers && failure == nil { lock.wait(untilMilliseconds: nil) }
      guard failure == nil, let slice = try next() else { return nil }
      claimed += 1
      if let buffer = free.popLast() { return (claimed - 1, slice, buffer) }
      made += 1
      return (claimed - 1, slice, ChunkBuffer())
    }
  }

  /// The next of `count` slices numbered from 0, and an empty buffer for it; `nil` when all are claimed
  /// or the scan stopped.
  func claim(below count: Int) throws -> (Int, ChunkBuffer)? {
    try claim(next: { claimed < count ? () : nil }).map { ($0.0, $0.2) }
  }

  /// Hands over a formatted slice; writes it, and any finished slices after it, if it is due next.
  func complete(_ slice: Int, buffer: ChunkBuffer, rows count: Int) throws {
    var due: (buffer: ChunkBuffer, rows: Int)? = lock.withLock {
      finished[slice] = (buffer, count)
      return slice == nextToWrite ? finished.removeValue(forKey: slice) : nil
    }
    while let (buffer, count) = due {
      do {
        // A large slice goes to the file as it is: its buffer comes back once written.
        try writer.append(formatted: buffer.bytes) { [self] in giveBack(buffer) }
      } catch {
        stop(error)
        throw error
      }
      due = lock.withLock {
        rows += count
        nextToWrite += 1
        return finished.removeValue(forKey: nextToWrite)
      }
    }
  }

  /// Empties a written slice's buffer for the next slice.
  private func giveBack(_ buffer: ChunkBuffer) {
    buffer.removeAll()
    lock.withLock { free.append(buffer) }
    lock.broadcast()
  }

  /// Rows written so far.
  var rowsWritten: Int { lock.withLock { rows } }

  /// Stops every connection at its next slice; the first error is the scan's.
  func stop(_ error: any Error) {
    lock.withLock { if failure == nil { failure = error } }
    lock.broadcast()
  }

  /// The rows written, or the error that stopped the scan.
  func result() throws -> Int {
    try lock.withLock {
      if let failure { throw failure }
      return rows
    }
  }
}

/// A sink that appends to whichever buffer its slice is being formatted into, lending its room to the
/// slice's writer (switch only after the writer's ``RowWriter/flush()``).
final class SwitchableSink: InPlaceSink {
  var buffer: ChunkBuffer?

  func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) { try buffer!.write(bytes) }

  func finish() throws(FileSystemError) {}

  func room(atLeast minimum: Int) -> UnsafeMutableRawBufferPointer { buffer!.room(atLeast: minimum) }

  func commit(_ count: Int) { buffer!.commit(count) }
}
