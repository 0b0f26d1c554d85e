/// A parsed filter: clauses joined by `:` (AND), each remembering where it came from for error messages.
public struct FilterExpression: Sendable, Equatable {
  /// The most clauses one filter may have.
  public static let maximumClauses = 10

  /// The text it was parsed from.
  public var text: String
  /// The clauses, in order.
  public var clauses: [Clause]

  /// One `op(field,value…)` term.
  public struct Clause: Sendable, Equatable {
    /// The operator name as written, e.g. `eq`.
    public var operatorName: String
    /// 1-based position of the operator name.
    public var position: Int
    /// The field name as written.
    public var field: String
    /// 1-based position of the field name.
    public var fieldPosition: Int
    /// The values, unquoted and unescaped.
    public var values: [Literal]
  }

  /// One value as written.
  public struct Literal: Sendable, Equatable {
    /// The value with quotes and escapes removed.
    public var text: String
    /// 1-based position of the value's first character (its quote, if quoted).
    public var position: Int
    /// Whether it was written in quotes.
    public var quoted = false
  }
}
