import JobdropModel

/// Writes an export as parts, each a complete file of its format (a CSV with its header, a workbook, a
/// gzip stream, a Parquet file): at most `rows` rows a part, or at most `bytes` a part (exactly for CSV
/// and JSON Lines; about, for formats that grow in compressed blocks).
///
/// A part is opened at its first cell, by `open` (a writer on its own file, which the caller makes);
/// `close` is called once its writer is finished, with its rows, to publish it. An export of no rows
/// is one part with only a header. Rows come one by one, as the source reads them (not in slices),
/// so that a part ends exactly at a row.
public final class SplitWriter: RowWriter {
  /// A part being written: its writer and what its file holds so far.
  public struct Part {
    public var writer: any RowWriter
    public var fileBytes: () -> Int

    public init(writer: any RowWriter, fileBytes: @escaping () -> Int) {
      self.writer = writer
      self.fileBytes = fileBytes
    }
  }

  private let split: ExportRequest.Split
  private let open: (Int) throws -> Part
  private let close: (Int, Int) throws -> Void
  private var names: [String] = []
  private var current: Part?
  private var partRows = 0
  /// The part's size after the last row, and the most one row made it grow.
  private var lastSize = 0
  private var largestStep = 0
  /// Parts opened so far.
  public private(set) var parts = 0
  public let guardFormulas: Bool

  /// `open(number)` makes part `number` (from 1); `close(number, rows)` publishes it.
  public init(
    split: ExportRequest.Split, guardFormulas: Bool, open: @escaping (Int) throws -> Part,
    close: @escaping (Int, Int) throws -> Void
  ) {
    self.split = split
    self.guardFormulas = guardFormulas
    self.open = open
    self.close = close
  }

  public var formatsInSlices: Bool { false }

  public func sliceWriter(into sink: any ByteSink) -> SplitWriter {
    preconditionFailure("a split export takes its rows one by one")
  }

  public func append(formatted bytes: UnsafeRawBufferPointer) throws {
    preconditionFailure("a split export takes its rows one by one")
  }

  public func header(_ names: [String]) throws { self.names = names }

  /// The writer of the part being written, opened if none is.
  @inline(__always)
  private func writer() throws -> any RowWriter {
    if let current { return current.writer }
    parts += 1
    let part = try open(parts)
    try part.writer.header(names)
    current = part
    partRows = 0
    lastSize = 0
    largestStep = 0
    return part.writer
  }

  public func empty() throws { try writer().empty() }

  public func integer(_ value: Int64) throws { try writer().integer(value) }

  public func text(_ bytes: UnsafeRawBufferPointer, guarded: Bool, numbersAsIs: Bool) throws {
    try writer().text(bytes, guarded: guarded, numbersAsIs: numbersAsIs)
  }

  public func endRow() throws {
    guard let current else { return }
    try current.writer.endRow()
    partRows += 1
    let full: Bool
    switch split {
    case .rows(let rows): full = partRows >= rows
    case .bytes(let bytes):
      // The part ends when the next row might not fit: what it holds (the file and the writer's buffer)
      // plus the largest step a row made it grow. Exact for csv and jsonl; compressed formats and
      // Parquet grow in blocks, so theirs are cut a block early or late.
      let size = current.fileBytes() + current.writer.bufferedBytes
      largestStep = max(largestStep, size - lastSize)
      lastSize = size
      full = size + largestStep > bytes
    }
    if full { try endPart() }
  }

  public func flush() throws { try current?.writer.flush() }

  public func finish() throws {
    if current == nil && parts == 0 { _ = try writer() }
    if current != nil { try endPart() }
  }

  /// Lets go of the part being written after a failure (a workbook's temp files).
  public func discard() {
    (current?.writer as? XLSXWriter)?.discard()
    current = nil
  }

  private func endPart() throws {
    guard let part = current else { return }
    current = nil
    try part.writer.finish()
    try close(parts, partRows)
  }
}
