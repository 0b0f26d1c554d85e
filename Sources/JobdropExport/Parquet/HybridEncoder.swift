/// Parquet's RLE / bit-packing hybrid encoding (definition levels, dictionary indices), and its PLAIN
/// encoding's little-endian integers.
enum HybridEncoder {
  /// Appends `count` times `value` as one RLE run of `bitWidth`-bit values.
  static func appendRun(_ value: UInt32, count: Int, bitWidth: Int, to output: inout [UInt8]) {
    appendVarint(UInt64(count) << 1, to: &output)
    for byte in 0..<((bitWidth + 7) / 8) { output.append(UInt8(truncatingIfNeeded: value >> (8 * byte))) }
  }

  /// Appends `values` bit-packed, `bitWidth` bits each, least significant bit first, as one run of groups
  /// of eight (the last group padded with zeros; the page's value count says where it ends).
  static func appendBitPacked(_ values: UnsafeBufferPointer<UInt32>, bitWidth: Int, to output: inout [UInt8])
  {
    let groups = (values.count + 7) / 8
    appendVarint(UInt64(groups) << 1 | 1, to: &output)
    let start = output.count
    let byteCount = groups * bitWidth
    output.append(contentsOf: repeatElement(0, count: byteCount))
    output.withUnsafeMutableBufferPointer { buffer in
      let base = buffer.baseAddress! + start
      var accumulator: UInt64 = 0
      var bits = 0
      var position = 0
      for value in values {
        accumulator |= UInt64(value) << UInt64(bits)
        bits += bitWidth
        while bits >= 8 {
          base[position] = UInt8(truncatingIfNeeded: accumulator)
          position += 1
          accumulator >>= 8
          bits -= 8
        }
      }
      if bits > 0 { base[position] = UInt8(truncatingIfNeeded: accumulator) }
    }
  }

  /// The definition levels of an OPTIONAL column (1 a value, 0 a NULL) as a data page v1 holds them: their
  /// length in 4 bytes, then one run (no NULLs) or the levels bit-packed.
  static func appendDefinitionLevels(
    _ levels: UnsafeBufferPointer<UInt8>, nullCount: Int, to output: inout [UInt8]
  ) {
    let lengthAt = output.count
    output.append(contentsOf: [0, 0, 0, 0])
    if nullCount == 0 {
      appendRun(1, count: levels.count, bitWidth: 1, to: &output)
    } else {
      let groups = (levels.count + 7) / 8
      appendVarint(UInt64(groups) << 1 | 1, to: &output)
      var byte: UInt8 = 0
      for (index, level) in levels.enumerated() {
        byte |= level << UInt8(index & 7)
        if index & 7 == 7 {
          output.append(byte)
          byte = 0
        }
      }
      if levels.count & 7 != 0 { output.append(byte) }
    }
    let length = UInt32(output.count - lengthAt - 4)
    for byte in 0..<4 { output[lengthAt + byte] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(byte))) }
  }

  static func appendVarint(_ value: UInt64, to output: inout [UInt8]) {
    var value = value
    while value >= 0x80 {
      output.append(UInt8(truncatingIfNeeded: value) | 0x80)
      value >>= 7
    }
    output.append(UInt8(value))
  }

  static func appendLittleEndian(_ value: UInt32, to output: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) }
  }

  /// The bits needed for values up to `maximum`, at least 1.
  static func bitWidth(_ maximum: Int) -> Int { max(1, Int.bitWidth - maximum.leadingZeroBitCount) }
}
