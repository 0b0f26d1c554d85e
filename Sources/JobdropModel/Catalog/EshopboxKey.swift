/// How one Eshopbox `exportFilters` key narrows a job type: equality on a field (a comma-separated value
/// means any of them), or a `{"start": …, "end": …}` date range on a timestamp field.
public enum EshopboxKey: Codable, Sendable, Equatable {
  case field(String)
  case dateRange(String)

  private enum CodingKeys: String, CodingKey { case field, dateRange }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    if let field = try container.decodeIfPresent(String.self, forKey: .field) {
      self = .field(field)
    } else if let field = try container.decodeIfPresent(String.self, forKey: .dateRange) {
      self = .dateRange(field)
    } else {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: decoder.codingPath,
          debugDescription: "expected {\"field\": NAME} or {\"dateRange\": NAME}"))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .field(let name): try container.encode(name, forKey: .field)
    case .dateRange(let name): try container.encode(name, forKey: .dateRange)
    }
  }

  /// The filter field the key narrows.
  public var fieldName: String {
    switch self {
    case .field(let name), .dateRange(let name): name
    }
  }
}
