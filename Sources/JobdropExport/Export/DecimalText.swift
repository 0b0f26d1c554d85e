/// Integers as decimal ASCII, written straight into an output buffer (the writers' hot path).
enum DecimalText {
  /// The most bytes ``write(_:to:)`` writes: a sign and 19 digits.
  static let maximumLength = 20

  /// Writes `value` at `target` (which has room for ``maximumLength`` bytes); returns the bytes written.
  @inline(__always)
  static func write(_ value: Int64, to target: UnsafeMutablePointer<UInt8>) -> Int {
    var magnitude = value.magnitude
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
    return withUnsafeMutableBytes(of: &digits) { scratch -> Int in
      var position = scratch.count
      repeat {
        position -= 1
        scratch[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
        magnitude /= 10
      } while magnitude != 0
      if value < 0 {
        position -= 1
        scratch[position] = 0x2D
      }
      let length = scratch.count - position
      target.update(
        from: scratch.baseAddress!.advanced(by: position).assumingMemoryBound(to: UInt8.self), count: length)
      return length
    }
  }
}
