/// A value bound to a statement parameter; filters never splice values into SQL text.
public enum SQLValue: Sendable, Equatable {
  case text(String)
  case integer(Int64)
  case null
}

/// The SQL flavour a condition is written for: where SQLite and PostgreSQL differ, they differ here.
public enum SQLDialect: Sendable, Equatable {
  case sqlite, postgres

  /// Case-insensitive pattern match (SQLite's `LIKE` already is, for ASCII).
  var like: String { self == .sqlite ? "LIKE" : "ILIKE" }

  /// `sql` with its `?` placeholders (outside quoted strings) as this dialect writes them.
  public func placeholders(_ sql: String) -> String {
    guard self == .postgres else { return sql }
    var result = ""
    var number = 0
    var quoted = false
    for character in sql {
      if character == "'" { quoted.toggle() }
      if character == "?" && !quoted {
        number += 1
        result += "$\(number)"
      } else {
        result.append(character)
      }
    }
    return result
  }
}

/// A SQL boolean expression with `?` placeholders and the values bound to them, in order.
public struct SQLCondition: Sendable, Equatable {
  /// The expression; `TRUE` when there is no constraint.
  public var sql: String
  /// One value per `?`, in order.
  public var bindings: [SQLValue]
  /// The clauses on each plain column of the source, ANDed (a planner asks how many rows an index on
  /// that column would visit); clauses on related tables are not here.
  public var byColumn: [String: SQLCondition]

  public init(sql: String, bindings: [SQLValue] = [], byColumn: [String: SQLCondition] = [:]) {
    self.sql = sql
    self.bindings = bindings
    self.byColumn = byColumn
  }

  /// Both conditions at once.
  func and(_ other: SQLCondition) -> SQLCondition {
    SQLCondition(sql: sql + " AND " + other.sql, bindings: bindings + other.bindings)
  }

  /// The condition that matches every row.
  public static let all = SQLCondition(sql: "TRUE")
}
