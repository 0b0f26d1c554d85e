import JobdropModel
import JobdropSystem

/// Writes one Apache Parquet file (format 2 metadata, data pages v1): columns typed from the catalog
/// (integer and money INT64, timestamps `TIMESTAMP(MILLIS, UTC)`, the rest UTF-8 `STRING`), every
/// column OPTIONAL, pages Zstandard-compressed, text with few distinct values dictionary-encoded, and
/// min, max and NULL count per column chunk.
///
/// Rows are held per column until a row group is full (``rowGroupBytes``); a full row group is encoded,
/// compressed and written on a second thread while the next one fills: memory is two row groups,
/// whatever the number of rows.
public final class ParquetWriter: RowWriter {
  /// The values a row group holds before it is written, by default.
  public static let defaultRowGroupBytes = 12 << 20
  private let rowGroupBytes: Int
  private var pages: ParquetPageWriter
  /// The columns being filled, in place (not an array: a row's cells then cost no uniqueness or
  /// exclusivity checks), and the set the last full row group is written from.
  private var columns: UnsafeMutableBufferPointer<ParquetColumn>
  private var spare: UnsafeMutableBufferPointer<ParquetColumn>
  private let schemas: [Parquet.ColumnSchema]
  /// The thread writing the spare set, and its error.
  private var writing: JoinableThread?
  private var writeError: (any Error)?
  private var rowGroups: [Parquet.RowGroup] = []
  private var column = 0
  private var rowsInGroup = 0
  private var rowsWritten = 0
  private var started = false
  public let guardFormulas: Bool

  public init(
    sink: any ByteSink, columns: [Column], guardFormulas: Bool = true,
    rowGroupBytes: Int = ParquetWriter.defaultRowGroupBytes
  ) {
    self.rowGroupBytes = rowGroupBytes
    pages = ParquetPageWriter(sink: sink)
    let schemas = columns.map { column in
      let meaning: Parquet.ColumnSchema.Meaning =
        column.type.isNumeric ? .integer : column.type == .timestamp ? .timestampMillis : .string
      return Parquet.ColumnSchema(name: column.name, meaning: meaning)
    }
    self.columns = .allocate(capacity: columns.count)
    spare = .allocate(capacity: columns.count)
    for (index, schema) in schemas.enumerated() {
      (self.columns.baseAddress! + index).initialize(to: ParquetColumn(schema: schema))
      (spare.baseAddress! + index).initialize(to: ParquetColumn(schema: schema))
    }
    self.schemas = schemas
    self.guardFormulas = guardFormulas
  }

  deinit {
    writing?.join()
    for set in [columns, spare] {
      set.baseAddress!.deinitialize(count: set.count)
      set.deallocate()
    }
  }

  public var formatsInSlices: Bool { false }

  public func sliceWriter(into sink: any ByteSink) -> ParquetWriter {
    preconditionFailure("a Parquet file is written by one thread")
  }

  public func append(formatted bytes: UnsafeRawBufferPointer) throws {
    preconditionFailure("a Parquet file is written by one thread")
  }

  /// The schema holds the names: nothing to write yet but the magic.
  public func header(_ names: [String]) throws {
    try start()
  }

  public func empty() throws {
    columns[column].appendNull()
    column += 1
  }

  public func integer(_ value: Int64) throws {
    switch schemas[column].meaning {
    case .integer:
      columns[column].append(value)
    case .string:
      var digits = [UInt8](repeating: 0, count: DecimalText.maximumLength)
      let count = digits.withUnsafeMutableBufferPointer { DecimalText.write(value, to: $0.baseAddress!) }
      digits.withUnsafeBytes {
        columns[column].append(UnsafeRawBufferPointer(rebasing: $0[..<count]), prefixed: false)
      }
    case .timestampMillis:
      throw invalid("the number \(value)", expected: "a time (YYYY-MM-DDTHH:MM:SSZ)")
    }
    column += 1
  }

  public func text(_ bytes: UnsafeRawBufferPointer, guarded: Bool, numbersAsIs: Bool) throws {
    switch schemas[column].meaning {
    case .string:
      let prefix = guarded && guardFormulas && FormulaGuard.isRisky(bytes, numbersAsIs: numbersAsIs)
      columns[column].append(bytes, prefixed: prefix)
    case .integer:
      guard let value = ParquetWriter.wholeNumber(bytes) else {
        throw invalid(ParquetWriter.quoted(bytes), expected: "a whole number")
      }
      columns[column].append(value)
    case .timestampMillis:
      guard let value = TimestampMillis.parse(bytes) else {
        throw invalid(ParquetWriter.quoted(bytes), expected: "a time (YYYY-MM-DDTHH:MM:SSZ)")
      }
      columns[column].append(value)
    }
    column += 1
  }

  public func endRow() throws {
    column = 0
    rowsInGroup += 1
    rowsWritten += 1
    if rowsInGroup & 127 == 0 && bufferedBytes >= rowGroupBytes {
      try writeRowGroup()
    }
  }

  public func flush() throws {}

  public func finish() throws {
    try start()
    if rowsInGroup > 0 { try writeRowGroup() }
    try waitForWriting()
    var footer = Parquet.footer(
      columns: schemas, rowGroups: rowGroups, createdBy: "jobdrop version \(JobdropVersion.current)")
    let length = UInt32(footer.count)
    withUnsafeBytes(of: length.littleEndian) { footer.append(contentsOf: $0) }
    footer.append(contentsOf: Parquet.magic)
    try pages.write(raw: footer)
  }

  private func start() throws {
    guard !started else { return }
    started = true
    try pages.write(raw: Parquet.magic)
  }

  public var bufferedBytes: Int {
    var total = 0
    for index in 0..<columns.count { total += columns[index].bufferedBytes }
    return total
  }

  /// Hands the full row group to a writing thread (once the previous one is written) and fills the
  /// other set.
  private func writeRowGroup() throws {
    try waitForWriting()
    swap(&columns, &spare)
    let full = spare
    let rows = Int64(rowsInGroup)
    rowsInGroup = 0
    // Unretained: the thread is joined before the next row group, in `finish()` or in `deinit`.
    writing = JoinableThread(name: "jobdrop-parquet") { [unowned(unsafe) self] in
      do {
        var chunks: [Parquet.ColumnChunk] = []
        for index in full.indices {
          chunks.append(try full[index].writeChunk(&pages))
          full[index].reset()
        }
        rowGroups.append(Parquet.RowGroup(columns: chunks, rowCount: rows))
      } catch {
        writeError = error
      }
    }
  }

  /// Waits for the row group being written; throws its error.
  private func waitForWriting() throws {
    writing?.join()
    writing = nil
    if let writeError { throw writeError }
  }

  private func invalid(_ value: String, expected: String) -> WriterError {
    WriterError(
      "parquet: row \(rowsWritten + 1), column '\(schemas[column].name)' holds \(value), not \(expected)")
  }

  /// A value for an error message: at most 40 characters, quoted.
  private static func quoted(_ bytes: UnsafeRawBufferPointer) -> String {
    let text = String(decoding: bytes.prefix(40), as: UTF8.self)
    return "'" + text + (bytes.count > 40 ? "…" : "") + "'"
  }

  /// `bytes` as a decimal integer (an optional `-`, digits), if it is one that fits 64 bits.
  static func wholeNumber(_ bytes: UnsafeRawBufferPointer) -> Int64? {
    guard !bytes.isEmpty else { return nil }
    let negative = bytes[0] == 0x2D
    let digits = negative ? UnsafeRawBufferPointer(rebasing: bytes[1...]) : bytes
    guard !digits.isEmpty, digits.count <= 19 else { return nil }
    var value: Int64 = 0
    for byte in digits {
      guard byte >= 0x30 && byte <= 0x39 else { return nil }
      let (times, overflow) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - 0x30))
      guard !overflow && !overflow2 else { return nil }
      value = sum
    }
    return negative ? -value : value
  }
}
