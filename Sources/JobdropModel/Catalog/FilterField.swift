/// A field partners may filter on: its name, type, operators, and how it maps to SQL.
public struct FilterField: Codable, Sendable, Equatable {
  /// The name used in filters, e.g. `status` in `eq(status,paid)`.
  public var name: String
  /// The value type; decides how values are parsed and compared.
  public var type: FieldType
  /// The operators this field accepts.
  public var operators: [FilterOperator]
  /// For `enum` fields, the allowed values.
  public var values: [String]?
  /// The SQL expression compared; defaults to the field name.
  public var expression: String?
  /// When set, the field matches rows that have a related row whose `column` matches (an `EXISTS` test).
  public var related: Relation?

  public init(
    name: String, type: FieldType, operators: [FilterOperator], values: [String]? = nil,
    expression: String? = nil, related: Relation? = nil
  ) {
    self.name = name
    self.type = type
    self.operators = operators
    self.values = values
    self.expression = expression
    self.related = related
  }

  /// The SQL expression compared.
  public var sql: String { expression ?? name }

  /// A one-to-many link: rows of `table` whose `foreignKey` equals the source's `key`.
  public struct Relation: Codable, Sendable, Equatable {
    /// The related table, e.g. `order_items`.
    public var table: String
    /// Its column that points at the source row, e.g. `order_id`.
    public var foreignKey: String
    /// The source's column it points at, e.g. `id`.
    public var key: String
    /// The related table's column the filter compares, e.g. `product_sku`.
    public var column: String

    public init(table: String, foreignKey: String, key: String, column: String) {
      self.table = table
      self.foreignKey = foreignKey
      self.key = key
      self.column = column
    }
  }
}
