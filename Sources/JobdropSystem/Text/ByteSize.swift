/// A size as operators and partners write it: a number of bytes, or a number with `KiB`, `MiB`, `GiB` or
/// `TiB` (powers of 1024; `KB`, `MB`, `GB`, `TB` and single letters mean the same here, as in `dd` and
/// most tools' options).
public enum ByteSize {
  /// The bytes `text` says (`5MiB`, `1GiB`, `1048576`), or `nil` if it is not a size.
  public static func parse(_ text: String) -> Int? {
    let trimmed = text.trimming { $0 == " " || $0 == "\t" }
    let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty, let number = Int(digits) else { return nil }
    let unit = trimmed.dropFirst(digits.count).trimming { $0 == " " }.lowercased()
    let shift: Int
    switch unit {
    case "", "b": shift = 0
    case "k", "kb", "kib": shift = 10
    case "m", "mb", "mib": shift = 20
    case "g", "gb", "gib": shift = 30
    case "t", "tb", "tib": shift = 40
    default: return nil
    }
    let (value, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
    return overflow ? nil : value
  }

  /// `bytes` as the largest whole unit that says it exactly (`64MiB`, `1GiB`, `1500`).
  public static func describe(_ bytes: Int) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")]
    where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
      return "\(bytes >> shift)\(unit)"
    }
    return "\(bytes)"
  }
}
