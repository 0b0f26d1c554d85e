/// What a column or filterable field holds; decides how filter values are checked and how cells are written.
public enum FieldType: String, Codable, Sendable, CaseIterable {
  /// Free text. CSV cells are guarded against formula injection.
  case text
  /// Text from a fixed list of values (the field's `values`).
  case `enum`
  /// A whole number.
  case integer
  /// A whole number of minor currency units (cents).
  case money
  /// An RFC 3339 UTC timestamp stored as text, `YYYY-MM-DDTHH:MM:SSZ`.
  case timestamp

  /// Whether values of this type are numbers (CSV cells are left as they are).
  public var isNumeric: Bool { self == .integer || self == .money }
}
