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
    let slices = SliceQueue(buffers: connections.count + 2, writer: writer)
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
    while let (number, slice, buffer) = try slices.claim(next: { try cursor.next(on: reader) }) {
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
