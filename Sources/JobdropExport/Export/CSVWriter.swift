import JobdropSystem

/// Streams RFC 4180 CSV (UTF-8, `\r\n` line ends; the delimiter `,`, `;`, `|` or a tab; optionally a
/// byte order mark first) through a large buffer into a ``ByteSink`` (the export file, or a gzip stream
/// in front of it).
///
/// Text cells that ``FormulaGuard`` finds risky get a leading `'` so that a spreadsheet never runs them
/// as formulas, unless `guardFormulas` is off. Memory use is the buffer, whatever the number of rows.
public final class CSVWriter: RowWriter {
  /// The default buffer size; one `write(2)` per this many bytes.
  public static let bufferSize = 1 << 20

  private let file: any ByteSink
  private let capacity: Int
  private let buffer: UnsafeMutablePointer<UInt8>
  private var count = 0
  private var atRowStart = true
  /// Whether text cells are guarded against formula injection.
  public let guardFormulas: Bool
  /// The byte between fields.
  public let delimiter: UInt8
  /// Whether the file starts with a UTF-8 byte order mark.
  public let byteOrderMark: Bool
  /// The delimiter in every byte of a word, for ``scan(_:_:)``.
  private let delimiterWord: UInt64

  public init(
    file: any ByteSink, guardFormulas: Bool = true, delimiter: UInt8 = 0x2C, byteOrderMark: Bool = false,
    bufferSize: Int = CSVWriter.bufferSize
  ) {
    self.file = file
    self.guardFormulas = guardFormulas
    self.delimiter = delimiter
    self.byteOrderMark = byteOrderMark
    self.delimiterWord = UInt64(delimiter) &* 0x0101_0101_0101_0101
    self.capacity = bufferSize
    self.buffer = .allocate(capacity: bufferSize)
  }

  public var formatsInSlices: Bool { true }

  public func sliceWriter(into sink: any ByteSink) -> CSVWriter {
    CSVWriter(
      file: sink, guardFormulas: guardFormulas, delimiter: delimiter, byteOrderMark: false,
      bufferSize: 1 << 16)
  }

  deinit { buffer.deallocate() }

  /// Writes a header row of `names` (after the byte order mark, if there is one).
  public func header(_ names: [String]) throws {
    if byteOrderMark {
      try [UInt8]([0xEF, 0xBB, 0xBF]).withUnsafeBytes { try append(formatted: $0) }
    }
    for name in names {
      let bytes = Array(name.utf8)
      try bytes.withUnsafeBytes { try text($0, guarded: false) }
    }
    try endRow()
  }

  /// Writes an empty cell (SQL NULL).
  @inline(__always)
  public func empty() throws(FileSystemError) {
    try separate(extra: 0)
  }

  /// Writes an integer cell.
  @inline(__always)
  public func integer(_ value: Int64) throws(FileSystemError) {
    try separate(extra: DecimalText.maximumLength)
    count += DecimalText.write(value, to: buffer + count)
  }

  /// Writes a text cell from UTF-8 bytes, quoting and (when `guarded`) defusing formulas. With
  /// `numbersAsIs`, a guarded value that is a plain number (`-12`, `+3.50`) is written as it is: what a
  /// column typed as a number holds when it is a number, while any other text in it is still guarded.
  @inline(__always)
  public func text(_ bytes: UnsafeRawBufferPointer, guarded: Bool, numbersAsIs: Bool = false)
    throws(FileSystemError)
  {
    let length = bytes.count
    let base = bytes.baseAddress
    let (needsQuotes, quotes) = base.map { scan($0, length) } ?? (false, 0)
    let prefix = guarded && guardFormulas && FormulaGuard.isRisky(bytes, numbersAsIs: numbersAsIs)
    let total = length + quotes + (needsQuotes ? 2 : 0) + (prefix ? 1 : 0)
    if total + 1 > capacity - count { try flush() }
    if total + 1 > capacity {
      try separate(extra: 0)
      try flush()
      try writeLarge(bytes, quoted: needsQuotes, prefix: prefix)
      return
    }
    try separate(extra: total)
    if needsQuotes { append(0x22) }
    if prefix { append(0x27) }
    guard let base else {
      if needsQuotes { append(0x22) }
      return
    }
    if quotes == 0 {
      (buffer + count).update(from: base.assumingMemoryBound(to: UInt8.self), count: length)
      count += length
    } else {
      let source = base.assumingMemoryBound(to: UInt8.self)
      for index in 0..<length {
        let byte = source[index]
        if byte == 0x22 { append(0x22) }
        append(byte)
      }
    }
    if needsQuotes { append(0x22) }
  }

  /// Whether `length` bytes at `base` need quoting (the delimiter, `"`, LF or CR), and how many `"` they
  /// hold.
  ///
  /// Eight bytes at a time: a word with no byte below 0x2D and none equal to the delimiter cannot hold
  /// any of the four, so most words of ids, emails and timestamps are cleared with a few instructions.
  @inline(__always)
  func scan(_ base: UnsafeRawPointer, _ length: Int) -> (Bool, Int) {
    let delimiter = self.delimiter
    let delimiterWord = self.delimiterWord
    var needsQuotes = false
    var quotes = 0
    var index = 0
    while index + 8 <= length {
      let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
      let same = word ^ delimiterWord
      let flags =
        ((word &- 0x2D2D_2D2D_2D2D_2D2D) & ~word) | ((same &- 0x0101_0101_0101_0101) & ~same)
      if flags & 0x8080_8080_8080_8080 != 0 {
        for offset in index..<index + 8 {
          let byte = base.load(fromByteOffset: offset, as: UInt8.self)
          if byte == delimiter || byte == 0x22 || byte == 0x0A || byte == 0x0D {
            needsQuotes = true
            if byte == 0x22 { quotes += 1 }
          }
        }
      }
      index += 8
    }
    while index < length {
      let byte = base.load(fromByteOffset: index, as: UInt8.self)
      if byte == delimiter || byte == 0x22 || byte == 0x0A || byte == 0x0D {
        needsQuotes = true
        if byte == 0x22 { quotes += 1 }
      }
      index += 1
    }
    return (needsQuotes, quotes)
  }

  /// Ends the current row.
  @inline(__always)
  public func endRow() throws(FileSystemError) {
    if capacity - count < 2 { try flush() }
    buffer[count] = 0x0D
    buffer[count + 1] = 0x0A
    count += 2
    atRowStart = true
  }

  /// Appends rows another writer already formatted (with the same settings), after what is buffered.
  public func append(formatted bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    if bytes.count > capacity - count {
      try flush()
      try file.write(bytes)
    } else if let base = bytes.baseAddress {
      (buffer + count).update(from: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
      count += bytes.count
    }
  }

  /// Writes out everything buffered.
  public func flush() throws(FileSystemError) {
    guard count > 0 else { return }
    try file.write(UnsafeRawBufferPointer(start: buffer, count: count))
    count = 0
  }

  /// Flushes the buffer and ends the sink's stream (a gzip trailer); call once, after the last row.
  public func finish() throws(FileSystemError) {
    try flush()
    try file.finish()
  }

  @inline(__always)
  private func append(_ byte: UInt8) {
    buffer[count] = byte
    count += 1
  }

  /// Writes the separator before a cell and makes room for `extra` more bytes.
  @inline(__always)
  private func separate(extra: Int) throws(FileSystemError) {
    if capacity - count < extra + 1 { try flush() }
    if atRowStart {
      atRowStart = false
    } else {
      append(delimiter)
    }
  }

  /// A cell bigger than the buffer, written in pieces.
  private func writeLarge(_ bytes: UnsafeRawBufferPointer, quoted: Bool, prefix: Bool) throws(FileSystemError)
  {
    if quoted { append(0x22) }
    if prefix { append(0x27) }
    for byte in bytes {
      if capacity - count < 3 { try flush() }
      if quoted && byte == 0x22 { append(0x22) }
      append(byte)
    }
    if capacity - count < 2 { try flush() }
    if quoted { append(0x22) }
  }
}
