import JobdropSystem

/// Checks a parsed filter against a job type and turns it into a parameterised SQL condition.
///
/// Every value is bound as a parameter. Time values are compared as the stored `YYYY-MM-DDTHH:MM:SSZ`
/// text: a bare date means that whole UTC day (`eq` the day, `lt` before it, `le` up to its end, `gt`
/// after it, `ge` from its start).
public struct FilterCompiler: Sendable {
  /// The job type whose fields the filter may name.
  public let jobType: JobType
  /// The SQL flavour to write.
  public let dialect: SQLDialect

  public init(jobType: JobType, dialect: SQLDialect = .sqlite) {
    self.jobType = jobType
    self.dialect = dialect
  }

  /// Parses and compiles `text`.
  public func compile(_ text: String) throws(FilterError) -> SQLCondition {
    try compile(FilterParser.parse(text))
  }

  /// Compiles a parsed filter; the result ANDs the clauses.
  public func compile(_ expression: FilterExpression) throws(FilterError) -> SQLCondition {
    var parts: [String] = []
    var bindings: [SQLValue] = []
    var clauses: [SQLCondition.Clause] = []
    for clause in expression.clauses {
      let condition = try compile(clause)
      parts.append(condition.sql)
      bindings += condition.bindings
      // A comparison on a plain column keeps that column within an interval (see SQLCondition.clauses).
      let field = jobType.field(named: clause.field)
      let comparison = FilterOperator(rawValue: clause.operatorName).map {
        [.eq, .gt, .ge, .lt, .le].contains($0)
      }
      let bounds = comparison == true && field?.related == nil
      clauses.append(.init(boundedColumn: bounds ? field?.sql : nil, condition: condition))
    }
    if parts.isEmpty { return .all }
    return SQLCondition(sql: parts.joined(separator: " AND "), bindings: bindings, clauses: clauses)
  }

  private func compile(_ clause: FilterExpression.Clause) throws(FilterError) -> SQLCondition {
    guard let op = FilterOperator(rawValue: clause.operatorName) else {
      throw FilterError(
        "unknown operator '\(clause.operatorName)'", at: clause.position,
        hint: "operators: " + FilterOperator.allCases.map(\.rawValue).joined(separator: ", "))
    }
    guard let field = jobType.field(named: clause.field) else {
      throw FilterError(
        "unknown field '\(clause.field)'", at: clause.fieldPosition,
        hint: "fields: " + jobType.fields.map(\.name).joined(separator: ", "))
    }
    guard field.operators.contains(op) else {
      throw FilterError(
        "operator '\(op.rawValue)' does not apply to '\(field.name)'", at: clause.position,
        hint: "\(field.name) takes: " + field.operators.map(\.rawValue).joined(separator: ", "))
    }
    guard op.arity.contains(clause.values.count) else {
      let expected =
        switch op {
        case .isNull: "no value: is_null(\(field.name))"
        case .in: "one or more values"
        default: "exactly one value"
        }
      throw FilterError(
        "'\(op.rawValue)' takes \(expected), got \(clause.values.count)", at: clause.position)
    }
    let column = field.related.map { "\($0.table).\($0.column)" } ?? field.sql
    let condition = try comparison(op, column: column, field: field, values: clause.values)
    guard let relation = field.related else { return condition }
    return SQLCondition(
      sql: "EXISTS (SELECT 1 FROM \(relation.table) WHERE \(relation.table).\(relation.foreignKey) = "
        + "\(jobType.source).\(relation.key) AND \(condition.sql))",
      bindings: condition.bindings)
  }

  private func comparison(
    _ op: FilterOperator, column: String, field: FilterField, values: [FilterExpression.Literal]
  ) throws(FilterError) -> SQLCondition {
    switch op {
    case .isNull:
      return SQLCondition(sql: "\(column) IS NULL")
    case .like:
      return SQLCondition(
        sql: "\(dialect.like(column)) ? ESCAPE '\\'", bindings: [try likePattern(values[0])])
    case .in:
      var bindings: [SQLValue] = []
      for value in values { bindings.append(try scalar(value, field: field)) }
      let marks = Array(repeating: "?", count: bindings.count).joined(separator: ", ")
      return SQLCondition(sql: "\(column) IN (\(marks))", bindings: bindings)
    case .eq, .gt, .ge, .lt, .le:
      if field.type == .timestamp { return try timeComparison(op, column: column, value: values[0]) }
      let symbol = [FilterOperator.eq: "=", .gt: ">", .ge: ">=", .lt: "<", .le: "<="][op]!
      return SQLCondition(sql: "\(column) \(symbol) ?", bindings: [try scalar(values[0], field: field)])
    }
  }

  private func scalar(_ value: FilterExpression.Literal, field: FilterField) throws(FilterError) -> SQLValue {
    switch field.type {
    case .text:
      return .text(value.text)
    case .enum:
      let allowed = field.values ?? []
      guard allowed.contains(value.text) else {
        throw FilterError(
          "'\(value.text)' is not a \(field.name)", at: value.position,
          hint: "\(field.name) is one of: " + allowed.joined(separator: ", "))
      }
      return .text(value.text)
    case .integer, .money:
      guard let number = Int64(value.text) else {
        let unit = field.type == .money ? " (an amount in minor units, e.g. 1999 for 19.99)" : ""
        throw FilterError("'\(value.text)' is not a whole number\(unit)", at: value.position)
      }
      return .integer(number)
    case .timestamp:
      guard case .instant(let time)? = Timestamp.parse(value.text) else {
        throw FilterError(
          "'\(value.text)' is not a time", at: value.position,
          hint: "use YYYY-MM-DD, RFC 3339 or epoch milliseconds, from 0000-01-01 to 9999-12-31")
      }
      return .text(time.rfc3339)
    }
  }

  /// `*` at the start and/or end becomes `%`; SQL wildcards in the value are escaped.
  private func likePattern(_ value: FilterExpression.Literal) throws(FilterError) -> SQLValue {
    var body = Substring(value.text)
    let leading = body.hasPrefix("*")
    if leading { body = body.dropFirst() }
    let trailing = body.hasSuffix("*")
    if trailing { body = body.dropLast() }
    if let star = body.firstIndex(of: "*") {
      // `body`'s indices are the text's own, so count in the whole text (a found-by-fuzzing crash
      // counted from an index outside `body`).
      let offset = value.text.unicodeScalars[..<star].count + (value.quoted ? 1 : 0)
      throw FilterError(
        "'*' is only allowed at the start or end of a like value", at: value.position + offset,
        hint: "e.g. like(name,Ron*) or like(email,\"*@example.com\")")
    }
    var pattern = leading ? "%" : ""
    for character in body {
      if character == "%" || character == "_" || character == "\\" { pattern.append("\\") }
      pattern.append(character)
    }
    if trailing { pattern += "%" }
    return .text(dialect == .sqlite ? pattern.lowercased() : pattern)
  }

  private func timeComparison(
    _ op: FilterOperator, column: String, value: FilterExpression.Literal
  ) throws(FilterError) -> SQLCondition {
    guard let parsed = Timestamp.parse(value.text) else {
      throw FilterError(
        "'\(value.text)' is not a time", at: value.position,
        hint: "use YYYY-MM-DD, RFC 3339 or epoch milliseconds, from 0000-01-01 to 9999-12-31")
    }
    func bound(_ symbol: String, _ time: Timestamp) -> SQLCondition {
      SQLCondition(sql: "\(column) \(symbol) ?", bindings: [.text(time.rfc3339)])
    }
    switch parsed {
    case .day(let start) where start.adding(seconds: 86_400) > Timestamp.latest:
      // The last representable day has no next midnight to compare with: nothing comes after it.
      switch op {
      case .eq, .ge: return bound(">=", start)
      case .gt: return SQLCondition(sql: "FALSE")
      case .lt: return bound("<", start)
      default: return SQLCondition(sql: "\(column) IS NOT NULL")
      }
    case .day(let start):
      let end = start.adding(seconds: 86_400)
      switch op {
      case .eq:
        return SQLCondition(
          sql: "\(column) >= ? AND \(column) < ?", bindings: [.text(start.rfc3339), .text(end.rfc3339)])
      case .gt: return bound(">=", end)
      case .ge: return bound(">=", start)
      case .lt: return bound("<", start)
      default: return bound("<", end)
      }
    case .instant(let time):
      // Stored times have whole seconds; a fractional instant lies strictly between two of them.
      let fractional = time.milliseconds % 1000 != 0
      let floor = Timestamp(seconds: time.seconds)
      switch op {
      case .eq: return fractional ? SQLCondition(sql: "FALSE") : bound("=", floor)
      case .gt: return bound(">", floor)
      case .ge: return fractional ? bound(">", floor) : bound(">=", floor)
      case .lt: return fractional ? bound("<=", floor) : bound("<", floor)
      default: return bound("<=", floor)
      }
    }
  }
}
