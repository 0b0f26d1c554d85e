import CByteScan
import JobdropModel
import JobdropSystem

/// Streams JSON Lines: one object per row, `\n` after each, keys the column names in column order.
/// Integer and money columns are JSON numbers, NULL is `null`, everything else a string (UTF-8, escaped
/// as RFC 8259 requires). Text values are guarded against formulas as in CSV (a leading `'`).
///
/// Each column's key (`{"name":` or `,"name":`) is encoded once; memory is one buffer, whatever the
/// number of rows.
public final class JSONLinesWriter: RowWriter {
  private let file: any ByteSink
  /// Where rows are formatted: the writer's own buffer, or room the sink lends (as in ``CSVWriter``).
  private var buffer: UnsafeMutablePointer<UInt8>
  private var capacity: Int
  private var count = 0
  private let own: UnsafeMutablePointer<UInt8>
  private let place: (any InPlaceSink)?
  private let roomSize: Int
  /// Per column: the bytes that open its member, and whether its values are numbers.
  private let keys: [[UInt8]]
  private let numeric: [Bool]
  private let columns: [Column]
  private var column = 0
  public let guardFormulas: Bool

  public init(
    file: any ByteSink, columns: [Column], guardFormulas: Bool = true, bufferSize: Int = CSVWriter.bufferSize
  ) {
    self.file = file
    self.columns = columns
    self.guardFormulas = guardFormulas
    keys = columns.enumerated().map { offset, column in
      Array((offset == 0 ? "{" : ",").utf8) + JSONLinesWriter.quoted(column.name) + [0x3A]
    }
    numeric = columns.map(\.type.isNumeric)
    place = file as? any InPlaceSink
    roomSize = max(bufferSize, 64)
    own = .allocate(capacity: place == nil ? roomSize : 0)
    buffer = own
    capacity = place == nil ? roomSize : 0
  }

  deinit { own.deallocate() }

  public var formatsInSlices: Bool { true }

  /// Bytes formatted and not yet handed to the file.
  public var bufferedBytes: Int { count }

  public func sliceWriter(into sink: any ByteSink) -> JSONLinesWriter {
    JSONLinesWriter(file: sink, columns: columns, guardFormulas: guardFormulas, bufferSize: 1 << 16)
  }

  /// JSON Lines has no header row: the keys are the names.
  public func header(_ names: [String]) throws {}

  @inline(__always)
  public func empty() throws(FileSystemError) {
    try key(extra: 4)
    append(0x6E, 0x75)
    append(0x6C, 0x6C)
  }

  @inline(__always)
  public func integer(_ value: Int64) throws(FileSystemError) {
    try key(extra: DecimalText.maximumLength)
    count += DecimalText.write(value, to: buffer + count)
  }

  /// A number column's value that is a JSON number is written as one; anything else is a string.
  @inline(__always)
  public func text(_ bytes: UnsafeRawBufferPointer, guarded: Bool, numbersAsIs: Bool) throws(FileSystemError)
  {
    let isNumber = numeric[column] && FormulaGuard.isJSONNumber(bytes)
    try key(extra: 0)
    if isNumber {
      try raw(bytes)
      return
    }
    let prefix = guarded && guardFormulas && FormulaGuard.isRisky(bytes, numbersAsIs: numbersAsIs)
    try reserve(2)
    append(0x22)
    if prefix { append(0x27) }
    try escaped(bytes)
    try reserve(1)
    append(0x22)
  }

  @inline(__always)
  public func endRow() throws(FileSystemError) {
    try reserve(2)
    append(0x7D, 0x0A)
    column = 0
  }

  public func append(formatted bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    try raw(bytes)
  }

  /// Appends rows another writer formatted; a large run goes to the file without a copy (as in
  /// ``CSVWriter``).
  public func append(formatted bytes: UnsafeRawBufferPointer, returned: @escaping @Sendable () -> Void)
    throws(FileSystemError)
  {
    guard bytes.count >= CSVWriter.lendingMinimum else {
      defer { returned() }
      try raw(bytes)
      return
    }
    try file.write(lending: bytes, after: flush, returned: returned)
  }

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

  public func finish() throws(FileSystemError) {
    try flush()
    try file.finish()
  }

  /// Writes the key of the next column and makes room for `extra` more bytes.
  @inline(__always)
  private func key(extra: Int) throws(FileSystemError) {
    let key = keys[column]
    column += 1
    try reserve(key.count + extra)
    key.withUnsafeBufferPointer { (buffer + count).update(from: $0.baseAddress!, count: $0.count) }
    count += key.count
  }

  @inline(__always)
  private func reserve(_ bytes: Int) throws(FileSystemError) {
    if capacity - count < bytes { try makeRoom(bytes) }
  }

  /// Makes room for `minimum` bytes: writes out what is buffered, or keeps it in the sink and takes new
  /// room there.
  private func makeRoom(_ minimum: Int) throws(FileSystemError) {
    guard let place else { return try flush() }
    (buffer, capacity) = place.nextRoom(keeping: count, atLeast: max(minimum, roomSize))
    count = 0
  }

  @inline(__always)
  private func append(_ byte: UInt8) {
    buffer[count] = byte
    count += 1
  }

  @inline(__always)
  private func append(_ first: UInt8, _ second: UInt8) {
    buffer[count] = first
    buffer[count + 1] = second
    count += 2
  }

  /// `bytes` as they are, through the buffer (or around it when they do not fit).
  private func raw(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
    if bytes.count > capacity - count {
      try flush()
      if bytes.count > capacity {
        try file.write(bytes)
        return
      }
    }
    (buffer + count).update(from: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
    count += bytes.count
  }

  /// `bytes` as the inside of a JSON string: `"` and `\` escaped, control characters as `\n`, `\r`,
  /// `\t` or `\u00XX`. Runs that need no escape are copied whole; a value of 8 bytes or more is first
  /// checked 16 bytes at a time with vector compares (`CByteScan`), and one that needs no escape (nearly
  /// all of them) is copied at once.
  @inline(__always)
  private func escaped(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    if bytes.count >= 8, let base = bytes.baseAddress,
      !jobdrop_json_needs_escape(base.assumingMemoryBound(to: UInt8.self), bytes.count)
    {
      return try raw(bytes)
    }
    var start = 0
    for index in 0..<bytes.count {
      let byte = bytes[index]
      guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
      try raw(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
      try reserve(6)
      switch byte {
      case 0x22, 0x5C: append(0x5C, byte)
      case 0x0A: append(0x5C, 0x6E)
      case 0x0D: append(0x5C, 0x72)
      case 0x09: append(0x5C, 0x74)
      default:
        append(0x5C, 0x75)
        append(0x30, 0x30)
        append(JSONLinesWriter.hexDigits[Int(byte >> 4)], JSONLinesWriter.hexDigits[Int(byte & 0xF)])
      }
      start = index + 1
    }
    try raw(UnsafeRawBufferPointer(rebasing: bytes[start...]))
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)

  /// `text` as a JSON string, quotes included.
  package static func quoted(_ text: String) -> [UInt8] {
    var result: [UInt8] = [0x22]
    for byte in text.utf8 {
      switch byte {
      case 0x22, 0x5C: result += [0x5C, byte]
      case 0..<0x20:
        result += [0x5C, 0x75, 0x30, 0x30, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
      default: result.append(byte)
      }
    }
    result.append(0x22)
    return result
  }
}
