import JobdropSystem

/// Formats export rows into a file, cell by cell in the query's column order: ``CSVWriter``,
/// ``JSONLinesWriter``, ``XLSXWriter``. A data source calls one cell method per column, then ``endRow()``.
///
/// The cell methods are the hot path: data sources call them on the concrete writer (see
/// ``DataSource``), never through this protocol's witness table, for each row.
public protocol RowWriter: AnyObject {
  /// Whether text cells are guarded against formula injection (see ``FormulaGuard``).
  var guardFormulas: Bool { get }
  /// Whether ``sliceWriter(into:)`` gives writers whose output ``append(formatted:)`` takes, so rows
  /// can be formatted on several threads and written in order.
  var formatsInSlices: Bool { get }

  /// Writes the header row (the column names), before any row; formats without one keep the names.
  func header(_ names: [String]) throws
  /// Writes an SQL NULL.
  func empty() throws
  /// Writes an integer cell (only for columns typed as numbers).
  func integer(_ value: Int64) throws
  /// Writes a text value from UTF-8 bytes. `guarded`: defuse formulas; `numbersAsIs`: the column is
  /// typed (a number or a time), and a value that is a plain number may be written as one.
  func text(_ bytes: UnsafeRawBufferPointer, guarded: Bool, numbersAsIs: Bool) throws
  /// Ends the current row.
  func endRow() throws
  /// Writes a whole row given in PostgreSQL's `COPY … TO STDOUT` text format (``PostgresCopyRow/line``)
  /// when the writer can take it as it stands; returns false, having written nothing, for a row to be
  /// written cell by cell. `numbers`: bit N set when column N is typed (a number or a time), as
  /// `numbersAsIs` in ``text(_:guarded:numbersAsIs:)``. False by default.
  func copyTextRow(_ line: UnsafeRawBufferPointer, numbers: UInt64, columns: Int) throws -> Bool
  /// A writer with the same settings that formats into `sink` (``formatsInSlices`` formats only).
  func sliceWriter(into sink: any ByteSink) -> Self
  /// Appends rows a ``sliceWriter(into:)`` formatted, after what is buffered.
  func append(formatted bytes: UnsafeRawBufferPointer) throws
  /// Appends rows a ``sliceWriter(into:)`` formatted, handing a large run to the file as it is (see
  /// ``ByteSink/write(lending:returned:)``): `returned` is called once `bytes` are no longer needed. By
  /// default a copy, and `returned` at once.
  func append(formatted bytes: UnsafeRawBufferPointer, returned: @escaping @Sendable () -> Void) throws
  /// Writes out everything buffered.
  func flush() throws
  /// Ends the file (a gzip trailer, a workbook's closing parts); call once, after the last row.
  func finish() throws
  /// About how many bytes of rows the writer holds that its file has not been given yet (a Parquet row
  /// group), for cutting parts by size; 0 by default.
  var bufferedBytes: Int { get }
}

extension RowWriter {
  public var bufferedBytes: Int { 0 }

  @inline(__always)
  public func copyTextRow(_ line: UnsafeRawBufferPointer, numbers: UInt64, columns: Int) throws -> Bool {
    false
  }

  public func append(formatted bytes: UnsafeRawBufferPointer, returned: @escaping @Sendable () -> Void) throws
  {
    defer { returned() }
    try append(formatted: bytes)
  }
}
