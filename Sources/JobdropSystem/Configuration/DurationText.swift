/// Durations as operators write them: `7d`, `36h`, `15m`, `90s`, `500ms`, or combined (`1d12h`).
public enum DurationText {
  /// Parses `text` into milliseconds when it lies in `range`; `nil` when it is not a duration or lies
  /// outside it (never a trap, whatever the digits). A zero duration (`0`, `0s`) is one when the range
  /// holds 0.
  public static func milliseconds(_ text: String, in range: ClosedRange<Int64>) -> Int64? {
    guard let value = text == "0" ? 0 : parse(text), range.contains(value) else { return nil }
    return value
  }

  /// Parses `text` into milliseconds; `nil` when it is not a positive duration or does not fit 64 bits.
  public static func milliseconds(_ text: String) -> Int64? {
    guard let value = parse(text), value > 0 else { return nil }
    return value
  }

  /// The duration `text` says, zero included; `nil` when it is none or does not fit 64 bits.
  private static func parse(_ text: String) -> Int64? {
    var total: Int64 = 0
    var number: Int64?
    var characters = Array(text.lowercased())
    if characters.isEmpty { return nil }
    var index = 0
    characters.append(" ")
    while index < characters.count - 1 {
      let character = characters[index]
      if let digit = character.wholeNumberValue, character.isASCII {
        let (product, overflow) = (number ?? 0).multipliedReportingOverflow(by: 10)
        if overflow { return nil }
        number = product + Int64(digit)
        index += 1
        continue
      }
      guard let value = number else { return nil }
      let unit: Int64
      if character == "m" && characters[index + 1] == "s" {
        unit = 1
        index += 1
      } else {
        switch character {
        case "d": unit = 86_400_000
        case "h": unit = 3_600_000
        case "m": unit = 60_000
        case "s": unit = 1_000
        default: return nil
        }
      }
      let (part, overflow) = value.multipliedReportingOverflow(by: unit)
      if overflow { return nil }
      let (sum, sumOverflow) = total.addingReportingOverflow(part)
      if sumOverflow { return nil }
      total = sum
      number = nil
      index += 1
    }
    if number != nil { return nil }
    return total
  }
}
