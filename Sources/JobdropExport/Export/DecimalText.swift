/// Integers as decimal ASCII, written straight into an output buffer (the writers' hot path).
enum DecimalText {
  /// The most bytes ``write(_:to:)`` writes: a sign and 19 digits.
  static let maximumLength = 20

  /// Writes `value` at `target` (which has room for ``maximumLength`` bytes); returns the bytes written.
  /// The digits are counted first and written in place from the last, two at a time.
  @inline(__always)
  static func write(_ value: Int64, to target: UnsafeMutablePointer<UInt8>) -> Int {
    var magnitude = value.magnitude
    let sign = value < 0 ? 1 : 0
    if sign == 1 { target.pointee = 0x2D }
    var digits = 1
    var threshold: UInt64 = 10
    while digits < 19 && magnitude >= threshold {
      digits += 1
      threshold = threshold &* 10
    }
    var position = sign + digits
    while magnitude >= 100 {
      let pair = Int(magnitude % 100) &* 2
      magnitude /= 100
      position -= 2
      target[position] = pairs[pair]
      target[position + 1] = pairs[pair + 1]
    }
    if magnitude >= 10 {
      let pair = Int(magnitude) &* 2
      target[position - 2] = pairs[pair]
      target[position - 1] = pairs[pair + 1]
    } else {
      target[position - 1] = UInt8(truncatingIfNeeded: magnitude) &+ 0x30
    }
    return sign + digits
  }

  /// "00", "01", … "99", one after another. Written once, before its first read, and never again.
  nonisolated(unsafe) private static let pairs: UnsafeMutablePointer<UInt8> = {
    let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 200)
    for number in 0..<100 {
      table[number * 2] = UInt8(0x30 + number / 10)
      table[number * 2 + 1] = UInt8(0x30 + number % 10)
    }
    return table
  }()
}
