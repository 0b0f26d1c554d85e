/// A value bound to a statement parameter; filters never splice values into SQL text.
public enum SQLValue: Sendable, Equatable {
  case text(String)
  case integer(Int64)
  case null
}

/// The SQL flavour a condition is written for: where SQLite and PostgreSQL differ, they differ here.
public enum SQLDialect: Sendable, Equatable {
  case sqlite, postgres

  /// Case-insensitive pattern match of `column`, the same on both: Unicode lowercase mapping. On SQLite
  /// the column goes through `jobdrop_fold` (registered on every connection) and the pattern is lowercased
  /// when compiled; PostgreSQL's `ILIKE` folds the same way under a UTF-8 ctype.
  func like(_ column: String) -> String {
    self == .sqlite ? "jobdrop_fold(\(column)) LIKE" : "\(column) ILIKE"
  }

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
  /// The ANDed clauses, each with the plain source column it bounds when it is a comparison (`eq gt ge
  /// lt le`), so that a planner can tell which rows an index on that column would visit.
  public var clauses: [Clause]

  /// One ANDed clause of a condition.
  public struct Clause: Sendable, Equatable {
    /// The source column whose value this clause keeps within an interval; `nil` for any other clause.
    public var boundedColumn: String?
    public var condition: SQLCondition
  }

  public init(sql: String, bindings: [SQLValue] = [], clauses: [Clause] = []) {
    self.sql = sql
    self.bindings = bindings
    self.clauses = clauses
  }

  /// The clauses that bound `column`, ANDed (an interval of its values); `nil` when none does.
  package func interval(of column: String) -> SQLCondition? {
    SQLCondition.and(clauses.filter { $0.boundedColumn == column }.map(\.condition))
  }

  /// Every clause but those bounding `column`, ANDed; ``all`` when none is left. A condition that
  /// lists no clauses is returned whole.
  package func excludingInterval(of column: String) -> SQLCondition {
    guard !clauses.isEmpty else { return self }
    return SQLCondition.and(clauses.filter { $0.boundedColumn != column }.map(\.condition)) ?? .all
  }

  /// This condition and `other`, both to hold: their clauses in order, one list (a planner sees both).
  public func and(_ other: SQLCondition) -> SQLCondition {
    if other.sql == SQLCondition.all.sql { return self }
    if sql == SQLCondition.all.sql { return other }
    return SQLCondition(
      sql: "\(sql) AND \(other.sql)", bindings: bindings + other.bindings, clauses: clauses + other.clauses)
  }

  private static func and(_ conditions: [SQLCondition]) -> SQLCondition? {
    guard !conditions.isEmpty else { return nil }
    return SQLCondition(
      sql: conditions.map(\.sql).joined(separator: " AND "), bindings: conditions.flatMap(\.bindings))
  }

  /// The condition that matches every row.
  public static let all = SQLCondition(sql: "TRUE")
}
