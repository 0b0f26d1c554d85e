import CByteScan
import CCopyRow
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
  /// The smallest run of formatted rows handed to the file without a copy (smaller runs gather in the
  /// buffer: one `write(2)` for many).
  static let lendingMinimum = 1 << 18

  private let file: any ByteSink
  /// Where rows are formatted: the writer's own buffer, or room the sink lends (``InPlaceSink``: a
  /// slice of a parallel export is formatted where it is kept, with no copy).
  private var buffer: UnsafeMutablePointer<UInt8>
  private var capacity: Int
  private var count = 0
  private let own: UnsafeMutablePointer<UInt8>
  private let place: (any InPlaceSink)?
  /// The least room asked of an ``InPlaceSink``.
  private let roomSize: Int
  private var atRowStart = true
  /// Whether text cells are guarded against formula injection.
  public let guardFormulas: Bool
  /// The byte between fields.
  public let delimiter: UInt8
  /// Whether the file starts with a UTF-8 byte order mark.
  public let byteOrderMark: Bool
  /// 1 for the delimiter, `"`, LF and CR, 0 for every other byte, for ``scan(_:_:)``.
  private let specials: UnsafeMutablePointer<UInt8>

  public init(
    file: any ByteSink, guardFormulas: Bool = true, delimiter: UInt8 = 0x2C, byteOrderMark: Bool = false,
    bufferSize: Int = CSVWriter.bufferSize
  ) {
    self.file = file
    self.guardFormulas = guardFormulas
    self.delimiter = delimiter
    self.byteOrderMark = byteOrderMark
    self.place = file as? any InPlaceSink
    self.roomSize = bufferSize
    self.own = .allocate(capacity: place == nil ? bufferSize : 0)
    self.buffer = own
    self.capacity = place == nil ? bufferSize : 0
    self.specials = .allocate(capacity: 256)
    specials.initialize(repeating: 0, count: 256)
    for byte in [delimiter, 0x22, 0x0A, 0x0D] { specials[Int(byte)] = 1 }
  }

  public var formatsInSlices: Bool { true }

  /// Bytes formatted and not yet handed to the file.
  public var bufferedBytes: Int { count }

  public func sliceWriter(into sink: any ByteSink) -> CSVWriter {
    CSVWriter(
      file: sink, guardFormulas: guardFormulas, delimiter: delimiter, byteOrderMark: false,
      bufferSize: 1 << 16)
  }

  deinit {
    own.deallocate()
    specials.deallocate()
  }

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
    if total + 1 > capacity - count { try makeRoom(total + 1) }
    if total + 1 > capacity {
      try separate(extra: 0)
      try makeRoom(3)  // the opening quote and prefix
      try writeLarge(bytes, quoted: needsQuotes, prefix: prefix)
      return
    }
    separateInRoom()  // the room for the separator and the cell was made above
    if needsQuotes { append(0x22) }
    if prefix { append(0x27) }
    guard let base else {
      if needsQuotes { append(0x22) }
      return
    }
    if quotes == 0 {
      CSVWriter.copy(base, length, to: buffer + count)
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

  /// Whether this CPU runs AVX2, for ``copyTextRow(_:numbers:columns:)``.
  static let hasAVX2 = jobdrop_cpu_has_avx2()

  /// Whether ``copyTextRow(_:numbers:columns:)`` reads 32 bytes at a time (AVX2) rather than 16; tests
  /// turn it off to check the other path.
  var wideVectors = CSVWriter.hasAVX2

  /// Writes a row of PostgreSQL's COPY text format as it stands when it needs nothing but its tabs made
  /// delimiters and its `\N` made empty (`jobdrop_copy_row_csv`, 32 or 16 bytes at a time): no quoting, no
  /// escape, no formula to guard, which is nearly every row. The same bytes as the row written cell by
  /// cell; any other row is left to that (false).
  @inline(__always)
  public func copyTextRow(_ line: UnsafeRawBufferPointer, numbers: UInt64, columns: Int)
    throws(FileSystemError) -> Bool
  {
    guard delimiter != 0x09, atRowStart, let base = line.baseAddress else { return false }
    let room = line.count + 32
    if room > capacity - count { try makeRoom(room) }
    guard room <= capacity - count else { return false }
    let written = jobdrop_copy_row_csv(
      base.assumingMemoryBound(to: UInt8.self), line.count, buffer + count, delimiter, guardFormulas, numbers,
      columns, wideVectors)
    guard written >= 0 else { return false }
    count += written
    return true
  }

  /// Whether `length` bytes at `base` need quoting (the delimiter, `"`, LF or CR), and how many `"` they
  /// hold.
  ///
  /// A cell of 8 bytes or more is scanned 16 bytes at a time with vector compares (`CByteScan`), so a
  /// cell that needs no quoting (nearly all of them) is cleared with a few instructions per block; a
  /// shorter cell is looked up byte by byte in a table of the four. Only a cell that holds one of them is
  /// counted byte by byte.
  @inline(__always)
  func scan(_ base: UnsafeRawPointer, _ length: Int) -> (Bool, Int) {
    if length >= 8 {
      if !jobdrop_csv_needs_quotes(base.assumingMemoryBound(to: UInt8.self), length, delimiter) {
        return (false, 0)
      }
    } else {
      var found: UInt8 = 0
      for index in 0..<length { found |= specials[Int(base.load(fromByteOffset: index, as: UInt8.self))] }
      if found == 0 { return (false, 0) }
    }
    var quotes = 0
    for index in 0..<length where base.load(fromByteOffset: index, as: UInt8.self) == 0x22 { quotes += 1 }
    return (true, quotes)
  }

  /// Copies `length` bytes from `source` to `target`: a short cell with two overlapping loads and stores,
  /// a long one with `memmove` (a call per cell costs more than the copy for most cells).
  @inline(__always)
  static func copy(_ source: UnsafeRawPointer, _ length: Int, to target: UnsafeMutablePointer<UInt8>) {
    let raw = UnsafeMutableRawPointer(target)
    if length >= 8 && length <= 16 {
      let head = source.loadUnaligned(as: UInt64.self)
      let tail = source.loadUnaligned(fromByteOffset: length - 8, as: UInt64.self)
      raw.storeBytes(of: head, as: UInt64.self)
      raw.storeBytes(of: tail, toByteOffset: length - 8, as: UInt64.self)
    } else if length >= 4 && length < 8 {
      let head = source.loadUnaligned(as: UInt32.self)
      let tail = source.loadUnaligned(fromByteOffset: length - 4, as: UInt32.self)
      raw.storeBytes(of: head, as: UInt32.self)
      raw.storeBytes(of: tail, toByteOffset: length - 4, as: UInt32.self)
    } else if length < 4 {
      for index in 0..<length { target[index] = source.load(fromByteOffset: index, as: UInt8.self) }
    } else {
      target.update(from: source.assumingMemoryBound(to: UInt8.self), count: length)
    }
  }

  /// Ends the current row.
  @inline(__always)
  public func endRow() throws(FileSystemError) {
    if capacity - count < 2 { try makeRoom(2) }
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

  /// Appends rows another writer formatted; a run of ``lendingMinimum`` bytes or more goes to the file
  /// as it is, without a copy into the buffer (what is buffered is written first).
  public func append(formatted bytes: UnsafeRawBufferPointer, returned: @escaping @Sendable () -> Void)
    throws(FileSystemError)
  {
    guard bytes.count >= CSVWriter.lendingMinimum else {
      defer { returned() }
      try append(formatted: bytes)
      return
    }
    try file.write(lending: bytes, after: flush, returned: returned)
  }

  /// Writes out everything buffered (into an ``InPlaceSink``: keeps what was formatted in its room, and
  /// asks for new room at the next write, so the sink may switch to another buffer in between).
  public func flush() throws(FileSystemError) {
    if let place {
      place.commit(count)
      count = 0
      capacity = 0
      return
    }
    guard count > 0 else { return }
    try file.write(UnsafeRawBufferPointer(start: buffer, count: count))
    count = 0
  }

  /// Makes room for `minimum` bytes (at most the buffer's size for the writer's own buffer): writes out
  /// what is buffered, or keeps it in the sink and takes new room there.
  private func makeRoom(_ minimum: Int) throws(FileSystemError) {
    guard let place else { return try flush() }
    (buffer, capacity) = place.nextRoom(keeping: count, atLeast: max(minimum, roomSize))
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
    if capacity - count < extra + 1 { try makeRoom(extra + 1) }
    separateInRoom()
  }

  /// Writes the separator before a cell, in room already made.
  @inline(__always)
  private func separateInRoom() {
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
      if capacity - count < 3 { try makeRoom(3) }
      if quoted && byte == 0x22 { append(0x22) }
      append(byte)
    }
    if capacity - count < 2 { try makeRoom(2) }
    if quoted { append(0x22) }
  }
}
