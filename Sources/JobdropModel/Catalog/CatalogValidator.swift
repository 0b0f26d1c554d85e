/// Checks a catalog before any job runs: names are SQL identifiers, columns and fields are unique,
/// operators fit their field types, enums list their values, Eshopbox keys point at real fields.
package struct CatalogValidator {
  let origin: String

  func validate(_ catalog: Catalog) throws(CatalogError) {
    guard !catalog.jobTypes.isEmpty else {
      throw CatalogError(origin: origin, "job_types: declare at least one job type")
    }
    var names = Set<String>()
    for (index, jobType) in catalog.jobTypes.enumerated() {
      guard CatalogValidator.isIdentifier(jobType.name) else {
        throw CatalogError(
          origin: origin,
          "job_types[\(index)]: name '\(jobType.name)' must be lowercase letters, digits and _")
      }
      guard names.insert(jobType.name).inserted else {
        throw CatalogError(origin: origin, "job type '\(jobType.name)' is declared twice")
      }
      try validate(jobType)
    }
  }

  private func validate(_ jobType: JobType) throws(CatalogError) {
    func fail(_ message: String) -> CatalogError {
      CatalogError(origin: origin, "job type '\(jobType.name)': \(message)")
    }
    guard !jobType.source.trimmingPrefix(while: { $0 == " " }).isEmpty else {
      throw fail("source: name a table, a view or a (SELECT …) AS alias")
    }
    guard !jobType.columns.isEmpty else { throw fail("columns: declare at least one column") }
    var columns = Set<String>()
    for (index, column) in jobType.columns.enumerated() {
      guard CatalogValidator.isIdentifier(column.name) else {
        throw fail("columns[\(index)]: name '\(column.name)' must be lowercase letters, digits and _")
      }
      guard columns.insert(column.name).inserted else {
        throw fail("columns[\(index)]: '\(column.name)' is declared twice")
      }
    }
    var fields = Set<String>()
    for (index, field) in jobType.fields.enumerated() {
      let key = "fields[\(index)] '\(field.name)'"
      guard CatalogValidator.isIdentifier(field.name) else {
        throw fail("fields[\(index)]: name '\(field.name)' must be lowercase letters, digits and _")
      }
      guard fields.insert(field.name).inserted else { throw fail("\(key): declared twice") }
      guard !field.operators.isEmpty else { throw fail("\(key): operators: name at least one") }
      let allowed = CatalogValidator.operators(for: field.type)
      for op in field.operators where !allowed.contains(op) {
        throw fail(
          "\(key): operator '\(op.rawValue)' does not apply to \(field.type.rawValue) fields (allowed: \(allowed.map(\.rawValue).joined(separator: ", ")))"
        )
      }
      if field.type == .enum && (field.values ?? []).isEmpty {
        throw fail("\(key): enum fields need \"values\"")
      }
      if let related = field.related {
        for part in [related.table, related.foreignKey, related.key, related.column]
        where !CatalogValidator.isIdentifier(part) {
          throw fail("\(key): related: '\(part)' is not a plain table or column name")
        }
      }
    }
    for key in (jobType.eshopbox ?? [:]).keys.sorted() {
      let mapping = jobType.eshopbox![key]!
      guard let field = jobType.field(named: mapping.fieldName) else {
        throw fail(
          "eshopbox.\(key): no field '\(mapping.fieldName)' (fields: \(jobType.fields.map(\.name).joined(separator: ", ")))"
        )
      }
      switch mapping {
      case .dateRange:
        guard field.type == .timestamp, field.operators.contains(.ge), field.operators.contains(.le) else {
          throw fail("eshopbox.\(key): a dateRange needs a timestamp field that takes ge and le")
        }
      case .field:
        guard field.operators.contains(.eq) else {
          throw fail("eshopbox.\(key): field '\(field.name)' must take eq")
        }
      }
    }
  }

  static func operators(for type: FieldType) -> [FilterOperator] {
    switch type {
    case .text: [.eq, .in, .like, .isNull]
    case .enum: [.eq, .in, .isNull]
    case .integer, .money: [.eq, .in, .gt, .ge, .lt, .le, .isNull]
    case .timestamp: [.eq, .gt, .ge, .lt, .le, .isNull]
    }
  }

  package static func isIdentifier(_ text: String) -> Bool {
    guard let first = text.utf8.first, (0x61...0x7A).contains(first) || first == 0x5F else { return false }
    return text.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
  }

  /// A decoding error as `job_types[3].columns[2].type: …`.
  static func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
      keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingPrefix(".")
        .description
    }
    switch error {
    case .keyNotFound(let key, let context):
      let at = path(context.codingPath)
      return "\(at.isEmpty ? "" : at + ": ")missing \"\(key.stringValue)\""
    case .typeMismatch(let type, let context):
      return "\(path(context.codingPath)): expected \(type)"
    case .valueNotFound(_, let context):
      return "\(path(context.codingPath)): missing value"
    case .dataCorrupted(let context):
      return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
      return "\(error)"
    }
  }
}
