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

  /// "00", "01", … "99", one after another: a literal in the binary, so reading it needs no lazy
  /// initialisation (a `static let` table cost a `swift_once` call per integer).
  private static var pairs: UnsafePointer<UInt8> {
    let table: StaticString = """
      0001020304050607080910111213141516171819\
      2021222324252627282930313233343536373839\
      4041424344454647484950515253545556575859\
      6061626364656667686970717273747576777879\
      8081828384858687888990919293949596979899
      """
    return table.utf8Start
  }
}
