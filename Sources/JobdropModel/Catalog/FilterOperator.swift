/// An operator of the Elastic Path filter language.
public enum FilterOperator: String, Codable, Sendable, CaseIterable {
  case eq, like, `in`, gt, ge, lt, le
  case isNull = "is_null"

  /// How many values the operator takes: `is_null` none, `in` one or more, the rest exactly one.
  var arity: ClosedRange<Int> {
    switch self {
    case .isNull: 0...0
    case .in: 1...Int.max
    default: 1...1
    }
  }
}
