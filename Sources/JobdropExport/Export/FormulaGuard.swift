/// Which text values a spreadsheet could run as formulas (OWASP "CSV injection"): those that start with
/// `=`, `+`, `-`, `@`, a tab or a carriage return. CSV and JSON Lines write them with a leading `'`;
/// a workbook keeps the value and marks the cell "quote prefix", so Excel shows it as text.
public enum FormulaGuard {
  /// Whether `bytes` needs guarding. With `numbersAsIs` (a column typed as a number or a time), a plain
  /// number (`-12`, `+3.50`) does not.
  @inline(__always)
  public static func isRisky(_ bytes: UnsafeRawBufferPointer, numbersAsIs: Bool) -> Bool {
    guard let first = bytes.first else { return false }
    let risky =
      first == 0x3D || first == 0x2B || first == 0x2D || first == 0x40 || first == 0x09 || first == 0x0D
    return risky && !(numbersAsIs && isPlainNumber(bytes))
  }

  /// Whether `bytes` is a sign, digits and an optional fraction, and nothing else.
  static func isPlainNumber(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var digits = 0
    var seenPoint = false
    for (index, byte) in bytes.enumerated() {
      if byte >= 0x30 && byte <= 0x39 {
        digits += 1
      } else if (byte == 0x2D || byte == 0x2B) && index == 0 {
        continue
      } else if byte == 0x2E && !seenPoint && digits > 0 {
        seenPoint = true
      } else {
        return false
      }
    }
    return digits > 0 && bytes.last.map { $0 >= 0x30 && $0 <= 0x39 } == true
  }

  /// Whether `bytes` is a number as JSON writes one: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`.
  static func isJSONNumber(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var index = 0
    let count = bytes.count
    if index < count && bytes[index] == 0x2D { index += 1 }
    guard index < count, bytes[index] >= 0x30 && bytes[index] <= 0x39 else { return false }
    if bytes[index] == 0x30 {
      index += 1
    } else {
      while index < count && bytes[index] >= 0x30 && bytes[index] <= 0x39 { index += 1 }
    }
    if index < count && bytes[index] == 0x2E {
      index += 1
      let start = index
      while index < count && bytes[index] >= 0x30 && bytes[index] <= 0x39 { index += 1 }
      guard index > start else { return false }
    }
    return index == count
  }
}
