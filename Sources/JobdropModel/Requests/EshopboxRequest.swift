import JobdropSystem

/// The Eshopbox "Export Job" dialect: `jobType`, `channelId`, `userId`, `fileType`, `exportFilters`.
///
/// `exportFilters` is translated into the Elastic Path filter language through the job type's
/// `eshopbox` key map, so both dialects share one filter compiler. Empty strings and `"{}"` mean no
/// constraint; a comma-separated value means any of them; date ranges are JSON `{"start", "end"}`
/// (whole UTC days, both ends included); `skuStyleCodeEanDropdown` names which of `sku`, `styleCode`
/// or `ean` the `skuStyleCodeEanDropdownValue` filters.
struct EshopboxRequest {
  let catalog: Catalog

  static let dropdown = "skuStyleCodeEanDropdown"
  static let dropdownValue = "skuStyleCodeEanDropdownValue"

  func interpret(_ document: JSONValue) throws(RequestError) -> ExportRequest {
    guard let jobTypeName = try RequestFields.string(document, "jobType", path: "jobType", required: true)
    else {
      throw RequestError("jobType: missing")
    }
    guard let jobType = catalog.jobType(named: jobTypeName) else {
      throw RequestError(
        "jobType: unknown job type '\(jobTypeName)' (job types: \(catalog.names.joined(separator: ", ")))")
    }
    let fileType = try RequestFields.string(document, "fileType", path: "fileType") ?? "CSV"
    guard let fileFormat = ExportRequest.Format(named: fileType) else {
      throw RequestError(
        "fileType: '\(fileType)' is not supported (file types: \(ExportRequest.Format.names.uppercased()))")
    }
    let channelId = try EshopboxRequest.scalar(document["channelId"], path: "channelId")
    let userId = try EshopboxRequest.scalar(document["userId"], path: "userId")
    var filters: [(key: String, value: JSONValue)] = []
    if let value = document["exportFilters"], value != .null {
      switch value {
      case .object(let members): filters = members
      case .string(let text) where text.isEmpty || text == "{}": break
      default: throw RequestError("exportFilters: expected an object, found \(value.kind)")
      }
    }
    var echo: [String: String] = [:]
    var clauses: [String] = []
    let supported = jobType.eshopbox ?? [:]
    let dropdownField = try EshopboxRequest.scalar(
      filters.first { $0.key == EshopboxRequest.dropdown }?.value,
      path: "exportFilters.\(EshopboxRequest.dropdown)")
    for (key, value) in filters {
      let path = "exportFilters.\(key)"
      let text = try EshopboxRequest.text(value, path: path)
      echo[key] = text
      if key == EshopboxRequest.dropdown || EshopboxRequest.isEmpty(text) { continue }
      var target = key
      if key == EshopboxRequest.dropdownValue {
        guard let chosen = dropdownField, !chosen.isEmpty else {
          throw RequestError(
            "\(path): set \(EshopboxRequest.dropdown) to sku, styleCode or ean to say what it filters")
        }
        guard ["sku", "styleCode", "ean"].contains(chosen) else {
          throw RequestError(
            "exportFilters.\(EshopboxRequest.dropdown): '\(chosen)' is not one of sku, styleCode, ean")
        }
        target = chosen
      }
      guard let mapping = supported[target] else {
        var keys = supported.keys.sorted()
        if ["sku", "styleCode", "ean"].contains(where: { supported[$0] != nil }) {
          keys += [EshopboxRequest.dropdown, EshopboxRequest.dropdownValue]
        }
        throw RequestError(
          "\(path): not supported by \(jobType.name) (supported: \(keys.isEmpty ? "none" : keys.joined(separator: ", ")))"
        )
      }
      clauses += try EshopboxRequest.clauses(mapping, text: text, path: path)
    }
    let reference = try RequestFields.string(document, "reference", path: "reference")
    let columns = try RequestFields.columns(document, key: "columns")
    let format = try RequestFields.format(document, key: "format", fallback: fileFormat)
    let csv = try RequestFields.csvOptions(document, format: format, path: "")
    let key = try RequestFields.idempotencyKey(document, path: "idempotency_key")
    let schedule = try ScheduleFields.schedule(document)
    let window = try ScheduleFields.window(document, scheduled: schedule != nil)
    let split = try RequestFields.split(document, path: "split")
    return ExportRequest(
      dialect: .eshopbox, jobType: jobTypeName, filter: clauses.joined(separator: ":"), reference: reference,
      columns: columns, format: format, csv: csv, idempotencyKey: key,
      eshopbox: .init(
        jobType: jobTypeName, channelId: channelId, userId: userId, fileType: fileType, exportFilters: echo),
      schedule: schedule, window: window, split: split)
  }

  static func isEmpty(_ text: String) -> Bool {
    let trimmed = text.filter { !$0.isWhitespace }
    return trimmed.isEmpty || trimmed == "{}"
  }

  /// The clauses for one key, in the filter language, values quoted.
  static func clauses(_ mapping: EshopboxKey, text: String, path: String) throws(RequestError) -> [String] {
    switch mapping {
    case .field(let field):
      let values = text.split(separator: ",").map { $0.trimming { $0 == " " } }.filter { !$0.isEmpty }
      if values.count == 1 { return ["eq(\(field),\(quote(values[0])))"] }
      return ["in(\(field),\(values.map(quote).joined(separator: ",")))"]
    case .dateRange(let field):
      guard case .object? = try? JSONReader.parse(Array(text.utf8)),
        let range = try? JSONReader.parse(Array(text.utf8))
      else {
        throw RequestError(
          "\(path): expected a JSON date range such as {\"start\":\"2019-12-01\",\"end\":\"2019-12-19\"}")
      }
      var clauses: [String] = []
      for (bound, op) in [("start", "ge"), ("end", "le")] {
        guard let value = range[bound], value != .null else { continue }
        guard case .string(let date) = value else {
          throw RequestError("\(path).\(bound): expected a date string")
        }
        if date.isEmpty { continue }
        guard Timestamp.parse(date) != nil else {
          throw RequestError("\(path).\(bound): '\(date)' is not a date (use YYYY-MM-DD or RFC 3339)")
        }
        clauses.append("\(op)(\(field),\(quote(date)))")
      }
      return clauses
    }
  }

  static func quote(_ value: String) -> String {
    var result = "\""
    for character in value {
      if character == "\"" || character == "\\" { result.append("\\") }
      result.append(character)
    }
    return result + "\""
  }

  /// A string, number or boolean as text; `nil` for absent or null.
  static func scalar(_ value: JSONValue?, path: String) throws(RequestError) -> String? {
    switch value {
    case nil, .null?: return nil
    case .string(let text)?: return text
    case .number(let text)?: return text
    case .bool(let flag)?: return flag ? "true" : "false"
    case let other?: throw RequestError("\(path): expected a string, found \(other.kind)")
    }
  }

  /// A filter value as text: strings as they are, objects (date ranges) as compact JSON.
  static func text(_ value: JSONValue, path: String) throws(RequestError) -> String {
    if case .object = value { return compact(value) }
    return try scalar(value, path: path) ?? ""
  }

  static func compact(_ value: JSONValue) -> String {
    switch value {
    case .null: "null"
    case .bool(let flag): flag ? "true" : "false"
    case .number(let text): text
    case .string(let text): JSONLogHandler.quote(text)
    case .array(let items): "[" + items.map(compact).joined(separator: ",") + "]"
    case .object(let members):
      "{" + members.map { JSONLogHandler.quote($0.key) + ":" + compact($0.value) }.joined(separator: ",")
        + "}"
    }
  }
}
