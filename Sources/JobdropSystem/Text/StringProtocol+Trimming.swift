extension StringProtocol {
  /// The text without the leading and trailing characters that match `predicate` (the standard library's
  /// `trimmingPrefix(while:)`, at both ends).
  package func trimming(while predicate: (Character) -> Bool) -> String {
    String(trimmingPrefix(while: predicate).reversed().drop(while: predicate).reversed())
  }
}
