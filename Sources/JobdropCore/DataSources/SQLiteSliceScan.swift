/// Reads a table as slices of its rowids on several connections at once and writes the slices in
/// rowid order, so formatting runs on every core while the output stays byte-identical to one reader.
///
/// A connection takes the next unread slice and formats it into a buffer of its own; finished slices are
/// written in order by whichever connection finishes the one due next. A few more buffers than
/// connections let a fast connection run ahead of a slow one. Memory is those buffers, whatever the
/// table's size. The connections must share one snapshot (``SQLiteSource`` sees to it).
struct SQLiteSliceScan {
  /// Rowids per slice: about a megabyte of CSV for a typical order row.
  static let defaultSliceRows: Int64 = 4_096

  let query: ExportQuery
  let first: Int64
  let last: Int64
  let sliceRows: Int64

  /// Writes the rows of `first...last` that match the query; returns how many. `progress` is called on
  /// the calling thread with the rows written so far; an error it throws stops every connection.
  func run(
    on connections: [SQLiteDatabase], to writer: CSVWriter, progress: (Int) throws -> Void
  ) throws -> Int {
    let statements = try connections.map { try $0.prepare(query.rowidSliceSQL) }
    let copier = SQLiteRowCopier(columns: query.columns)
    let slices = SliceQueue(
      count: Int((last - first) / sliceRows) + 1, buffers: connections.count + 2, writer: writer)
    let helpers = statements.dropFirst().map { statement in
      JoinableThread {
        do {
          try work(statement, copier: copier, slices: slices, guardFormulas: writer.guardFormulas) { _ in }
        } catch {
          slices.stop(error)
        }
      }
    }
    do {
      try work(
        statements[0], copier: copier, slices: slices, guardFormulas: writer.guardFormulas, progress: progress
      )
    } catch {
      slices.stop(error)
    }
    helpers.forEach { $0.join() }
    return try slices.result()
  }

  /// Formats slices until none is left, handing each to the queue.
  private func work(
    _ statement: SQLiteStatement, copier: SQLiteRowCopier, slices: SliceQueue, guardFormulas: Bool,
    progress: (Int) throws -> Void
  ) throws {
    let target = SwitchableSink()
    let local = CSVWriter(file: target, guardFormulas: guardFormulas, bufferSize: 1 << 16)
    while let (slice, buffer) = slices.claim() {
      target.buffer = buffer
      let low = first + Int64(slice) * sliceRows
      statement.reset()
      try statement.bind([.integer(low), .integer(low + sliceRows)] + query.condition.bindings)
      let rows = try copier.copyRows(of: statement, to: local)
      try local.flush()
      try slices.complete(slice, buffer: buffer, rows: rows)
      try progress(slices.rowsWritten)
    }
  }
}

/// A sink that appends to whichever buffer its slice is being formatted into.
private final class SwitchableSink: ByteSink {
  var buffer: ChunkBuffer?

  func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) { try buffer?.write(bytes) }

  func finish() throws(FileSystemError) {}
}

/// The slices still to read, the buffers free to read them into, and the finished slices waiting for
/// their turn to be written; the first error of any connection stops them all.
private final class SliceQueue: @unchecked Sendable {
  private let lock = ConditionLock()
  private let count: Int
  private let writer: CSVWriter
  private var nextToClaim = 0
  private var nextToWrite = 0
  private var free: [ChunkBuffer]
  private var finished: [Int: (buffer: ChunkBuffer, rows: Int)] = [:]
  private var rows = 0
  private var failure: (any Error)?

  init(count: Int, buffers: Int, writer: CSVWriter) {
    self.count = count
    self.writer = writer
    free = (0..<buffers).map { _ in ChunkBuffer() }
  }

  /// The next slice to read and an empty buffer for it; `nil` when none is left or the scan stopped.
  func claim() -> (Int, ChunkBuffer)? {
    lock.withLock {
      while free.isEmpty && failure == nil && nextToClaim < count { lock.wait(untilMilliseconds: nil) }
      guard failure == nil, nextToClaim < count else { return nil }
      nextToClaim += 1
      return (nextToClaim - 1, free.removeLast())
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
        try writer.append(formatted: buffer.bytes)
      } catch {
        stop(error)
        throw error
      }
      buffer.removeAll()
      due = lock.withLock {
        free.append(buffer)
        rows += count
        nextToWrite += 1
        return finished.removeValue(forKey: nextToWrite)
      }
      lock.broadcast()
    }
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
