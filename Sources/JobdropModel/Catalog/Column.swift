/// One CSV column of a job type: its header name, the SQL expression that yields it, and its type.
public struct Column: Codable, Sendable, Equatable {
  /// The header name partners see and name in `columns`.
  public var name: String
  /// The SQL expression over the job type's source; defaults to the column name.
  public var expression: String?
  /// The value's type; numeric columns are written as they are, text is guarded.
  public var type: FieldType

  public init(name: String, expression: String? = nil, type: FieldType) {
    self.name = name
    self.expression = expression
    self.type = type
  }

  /// The SQL expression to select.
  public var sql: String { expression ?? name }
}
