/// A value bound to a statement parameter; filters never splice values into SQL text.
public enum SQLValue: Sendable, Equatable {
  case text(String)
  case integer(Int64)
  case null
}

/// A SQL boolean expression with `?` placeholders and the values bound to them, in order.
public struct SQLCondition: Sendable, Equatable {
  /// The expression; `1` when there is no constraint.
  public var sql: String
  /// One value per `?`, in order.
  public var bindings: [SQLValue]

  public init(sql: String, bindings: [SQLValue] = []) {
    self.sql = sql
    self.bindings = bindings
  }

  /// The condition that matches every row.
  public static let all = SQLCondition(sql: "1")
}
