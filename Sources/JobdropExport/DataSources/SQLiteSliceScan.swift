import JobdropSystem

/// Reads a table in slices on several connections at once and writes the slices in order, so formatting
/// runs on every core while the output stays byte-identical to one reader.
///
/// Slices come from a ``SQLiteSliceCursor`` (rowid ranges, or ranges of an index's keys). A connection
/// takes the next unread slice and formats it into a buffer of its own; finished slices are written in
/// order by whichever connection finishes the one due next. A few more buffers than
/// connections let a fast connection run ahead of a slow one. Memory is those buffers, whatever the
/// table's size. The connections must share one snapshot (``SQLiteSource`` sees to it).
struct SQLiteSliceScan {
  /// Rowids (or index entries) per slice: about a megabyte of CSV for a typical order row.
  static let defaultSliceRows: Int64 = 4_096

  let query: ExportQuery
  let cursor: SQLiteSliceCursor

  /// Writes the rows of every slice that match the query; returns how many. `progress` is called on
  /// the calling thread with the rows written so far; an error it throws stops every connection.
  func run<Writer: RowWriter>(
    on connections: [SQLiteDatabase], to writer: Writer, progress: (Int) throws -> Void
  ) throws -> Int {
    let readers = try connections.map { try cursor.reader(on: $0) }
    let copier = SQLiteRowCopier(columns: query.columns)
    let slices = SliceQueue(cursor: cursor, buffers: connections.count + 2, writer: writer)
    let helpers = readers.dropFirst().map { reader in
      JoinableThread(name: "jobdrop-slice") {
        do {
          try work(reader, copier: copier, slices: slices, writer: writer) { _ in }
        } catch {
          slices.stop(error)
        }
      }
    }
    do {
      try work(readers[0], copier: copier, slices: slices, writer: writer, progress: progress)
    } catch {
      slices.stop(error)
    }
    helpers.forEach { $0.join() }
    for reader in readers { reader.reset() }
    return try slices.result()
  }

  /// Formats slices until none is left, handing each to the queue.
  private func work<Writer: RowWriter>(
    _ reader: SQLiteSliceCursor.Reader, copier: SQLiteRowCopier, slices: SliceQueue, writer: Writer,
    progress: (Int) throws -> Void
  ) throws {
    let target = SwitchableSink()
    let local = writer.sliceWriter(into: target)
    while let (number, slice, buffer) = try slices.claim(with: reader) {
      target.buffer = buffer
      slice.statement.reset()
      try slice.statement.bind(slice.bindings)
      let rows = try copier.copyRows(of: slice.statement, to: local)
      try local.flush()
      try slices.complete(number, buffer: buffer, rows: rows)
      try progress(slices.rowsWritten)
    }
  }
}

/// A sink that appends to whichever buffer its slice is being formatted into, lending its room to the
/// slice's writer (switch only after the writer's ``RowWriter/flush()``).
private final class SwitchableSink: InPlaceSink {
  var buffer: ChunkBuffer?

  func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) { try buffer!.write(bytes) }

  func finish() throws(FileSystemError) {}

  func room(atLeast minimum: Int) -> UnsafeMutableRawBufferPointer { buffer!.room(atLeast: minimum) }

  func commit(_ count: Int) { buffer!.commit(count) }
}

/// The slices still to read, the buffers free to read them into, and the finished slices waiting for
/// their turn to be written; the first error of any connection stops them all.
// @unchecked: the slice cursor and the finished buffers are only touched under `lock` (a ConditionLock, not a Mutex: threads wait on it for a change).
private final class SliceQueue: @unchecked Sendable {
  private let lock = ConditionLock()
  private let cursor: SQLiteSliceCursor
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

  init(cursor: SQLiteSliceCursor, buffers: Int, writer: any RowWriter) {
    self.cursor = cursor
    self.writer = writer
    self.buffers = buffers
  }

  /// The next slice (its number, and how `reader` reads it) and an empty buffer for it; `nil` when none
  /// is left or the scan stopped.
  func claim(with reader: SQLiteSliceCursor.Reader) throws -> (Int, SQLiteSliceCursor.Slice, ChunkBuffer)? {
    try lock.withLock { () throws -> (Int, SQLiteSliceCursor.Slice, ChunkBuffer)? in
      while free.isEmpty && made == buffers && failure == nil { lock.wait(untilMilliseconds: nil) }
      guard failure == nil, let slice = try cursor.next(on: reader) else { return nil }
      claimed += 1
      if let buffer = free.popLast() { return (claimed - 1, slice, buffer) }
      made += 1
      return (claimed - 1, slice, ChunkBuffer())
    }
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
