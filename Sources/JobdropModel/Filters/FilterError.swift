/// Why a filter was refused, and where: the message partners read in a failed job's `error`.
///
/// Reads like `filter: unknown field 'colour' at 4 (fields: status, payment, …)`. Positions are 1-based
/// character offsets into the filter text.
public struct FilterError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What is wrong, without the `filter:` prefix or position.
  public var message: String
  /// 1-based position in the filter text, when the problem has one.
  public var position: Int?
  /// What would be accepted instead, e.g. `fields: status, payment`.
  public var hint: String?

  public init(_ message: String, at position: Int? = nil, hint: String? = nil) {
    self.message = message
    self.position = position
    self.hint = hint
  }

  public var description: String {
    var text = "filter: \(message)"
    if let position { text += " at \(position)" }
    if let hint { text += " (\(hint))" }
    return text
  }
}
