extension StringProtocol {
  /// The text without the leading and trailing characters that match `predicate` (the standard library's
  /// `trimmingPrefix(while:)`, at both ends). Only the ends are looked at: a filter's every value is
  /// trimmed.
  package func trimming(while predicate: (Character) -> Bool) -> String {
    guard let first = firstIndex(where: { !predicate($0) }), let last = lastIndex(where: { !predicate($0) })
    else { return "" }
    return String(self[first...last])
  }
}
