import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// One column's values of the row group being written, and how they are encoded into its column chunk:
/// definition levels (a NULL is a missing value), then the values PLAIN or, for text with few distinct
/// values, through a dictionary.
struct ParquetColumn: ~Copyable {
  let schema: Parquet.ColumnSchema
  /// 1 for a value, 0 for a NULL, one per row.
  private(set) var levels = RawVector<UInt8>()
  private(set) var nullCount = 0
  /// The values of an INT64 column.
  private var integers = RawVector<Int64>()
  private var minimum = Int64.max
  private var maximum = Int64.min
  /// The values of a text column, end to end, and where each ends.
  private var text = RawVector<UInt8>()
  private var ends = RawVector<Int>()
  /// Dictionary indices of the text values so far, while the dictionary holds them all.
  private var indices = RawVector<UInt32>()
  private var dictionary = ByteDictionary()
  /// Whether this row group's values still fit a dictionary; a column that once did not is written
  /// PLAIN from then on (a column of ids or names would only fill it again).
  private var dictionaryInUse = true
  private var dictionaryGivenUp = false

  init(schema: Parquet.ColumnSchema) {
    self.schema = schema
  }

  /// Bytes held for the row group, to decide when it is written.
  var bufferedBytes: Int {
    levels.count + integers.count * 8 + text.count + ends.count * 8 + indices.count * 4
  }

  mutating func appendNull() {
    levels.append(0)
    nullCount += 1
  }

  mutating func append(_ value: Int64) {
    levels.append(1)
    integers.append(value)
    if value < minimum { minimum = value }
    if value > maximum { maximum = value }
  }

  /// Appends a text value, with a `'` before it when `prefixed` (the formula guard).
  mutating func append(_ value: UnsafeRawBufferPointer, prefixed: Bool) {
    levels.append(1)
    let start = text.count
    if prefixed { text.append(0x27) }
    text.append(contentsOf: value.assumingMemoryBound(to: UInt8.self))
    ends.append(text.count)
    guard dictionaryInUse else { return }
    let stored = UnsafeRawBufferPointer(start: text.base + start, count: text.count - start)
    if let index = dictionary.insert(stored) {
      indices.append(index)
    } else {
      dictionaryInUse = false
      dictionaryGivenUp = true
      indices.removeAll()
    }
  }

  /// Empties the column for the next row group.
  mutating func reset() {
    levels.removeAll()
    nullCount = 0
    integers.removeAll()
    minimum = .max
    maximum = .min
    text.removeAll()
    ends.removeAll()
    indices.removeAll()
    dictionary.removeAll()
    dictionaryInUse = !dictionaryGivenUp
  }

  /// Writes the column chunk's pages through `pages` (which compresses them and says where each
  /// started) and returns its metadata.
  mutating func writeChunk(_ pages: inout ParquetPageWriter) throws -> Parquet.ColumnChunk {
    let start = pages.offset
    let uncompressedStart = pages.uncompressedTotal
    var dictionaryOffset: Int64?
    var encodings: [Parquet.Encoding] = [.rle]
    var page: [UInt8] = []
    page.reserveCapacity(bufferedBytes + 64)
    HybridEncoder.appendDefinitionLevels(levels.buffer, nullCount: nullCount, to: &page)
    let valueCount = levels.count - nullCount
    let encoding: Parquet.Encoding
    if schema.physicalType == .int64 {
      page.append(contentsOf: UnsafeRawBufferPointer(integers.buffer))  // little-endian on every target
      encoding = .plain
    } else if dictionaryInUse && dictionary.count > 0 {
      dictionaryOffset = pages.offset
      var values: [UInt8] = []
      values.reserveCapacity(dictionary.bytes.count + dictionary.count * 4)
      for index in 0..<dictionary.count {
        let value = dictionary.value(index)
        HybridEncoder.appendLittleEndian(UInt32(value.count), to: &values)
        values.append(contentsOf: value)
      }
      try pages.write(dictionaryOf: dictionary.count, values)
      let width = HybridEncoder.bitWidth(dictionary.count - 1)
      page.append(UInt8(width))
      HybridEncoder.appendBitPacked(indices.buffer, bitWidth: width, to: &page)
      encoding = .rleDictionary
    } else {
      var begin = 0
      for end in ends.buffer {
        HybridEncoder.appendLittleEndian(UInt32(end - begin), to: &page)
        page.append(contentsOf: UnsafeBufferPointer(start: text.base + begin, count: end - begin))
        begin = end
      }
      encoding = .plain
    }
    encodings.append(encoding)
    if dictionaryOffset != nil { encodings.append(.plain) }
    let dataOffset = pages.offset
    try pages.write(dataPageOf: levels.count, encoding: encoding, page)
    return Parquet.ColumnChunk(
      column: schema, encodings: encodings, valueCount: Int64(levels.count),
      uncompressedSize: pages.uncompressedTotal - uncompressedStart, compressedSize: pages.offset - start,
      dataPageOffset: dataOffset, dictionaryPageOffset: dictionaryOffset,
      statistics: statistics(valueCount: valueCount))
  }

  private func statistics(valueCount: Int) -> Parquet.Statistics {
    var statistics = Parquet.Statistics(nullCount: Int64(nullCount))
    guard valueCount > 0 else { return statistics }
    if schema.physicalType == .int64 {
      statistics.min = withUnsafeBytes(of: minimum.littleEndian, Array.init)
      statistics.max = withUnsafeBytes(of: maximum.littleEndian, Array.init)
      return statistics
    }
    // Text compares as unsigned bytes (UTF-8 in code point order).
    var low: UnsafeRawBufferPointer?
    var high: UnsafeRawBufferPointer?
    func consider(_ value: UnsafeRawBufferPointer) {
      if low == nil || ParquetColumn.compare(value, low!) < 0 { low = value }
      if high == nil || ParquetColumn.compare(value, high!) > 0 { high = value }
    }
    if dictionaryInUse {
      for index in 0..<dictionary.count { dictionary.withValue(index, consider) }
    } else {
      var begin = 0
      for end in ends.buffer {
        consider(UnsafeRawBufferPointer(start: text.base + begin, count: end - begin))
        begin = end
      }
    }
    statistics.min = low.map { Array($0) }
    statistics.max = high.map { Array($0) }
    return statistics
  }

  /// Orders byte strings as unsigned bytes, a shorter prefix first.
  static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let common = min(a.count, b.count)
    if common > 0 {
      let order = memcmp(a.baseAddress!, b.baseAddress!, common)
      if order != 0 { return Int(order) }
    }
    return a.count - b.count
  }
}
