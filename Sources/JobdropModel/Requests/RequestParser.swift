import JobdropSystem

/// Turns the bytes of a request file into an ``ExportRequest`` checked against the catalog.
///
/// Every failure is a ``RequestError`` whose message names the key (`data.filter`) or the JSON position.
public struct RequestParser: Sendable {
  /// The largest request file accepted.
  public static let maximumSize = 1 << 20

  public let catalog: Catalog

  public init(catalog: Catalog) { self.catalog = catalog }

  /// Parses and validates a request file's content.
  public func parse(_ bytes: [UInt8]) throws(RequestError) -> ExportRequest {
    let request = try read(bytes)
    try validate(request)
    return request
  }

  /// The job id of a cancel request (`{"cancel": "<job id>"}`), or `nil` when `bytes` is not one (an export
  /// request, or no JSON object at all: ``read(_:)`` says what is wrong with it).
  public static func cancelTarget(in bytes: [UInt8]) throws(RequestError) -> String? {
    guard bytes.count <= RequestParser.maximumSize, let document = try? JSONReader.parse(bytes),
      case .object(let members) = document, let value = document["cancel"]
    else { return nil }
    guard case .string(let id) = value else {
      throw RequestError("cancel: expected the id of the job to cancel, found \(value.kind)")
    }
    if let other = members.first(where: { $0.key != "cancel" }) {
      throw RequestError("\(other.key.prefix(80)): a cancel request has no other key")
    }
    return id
  }

  /// Parses a request file's content into the normal form, without checking it against the catalog.
  public func read(_ bytes: [UInt8]) throws(RequestError) -> ExportRequest {
    if bytes.count > RequestParser.maximumSize {
      throw RequestError("request is larger than 1 MiB (\(bytes.count) bytes or more)")
    }
    let document: JSONValue
    do {
      document = try JSONReader.parse(bytes)
    } catch {
      throw RequestError("request is not valid JSON: \(error)", isTruncated: error.isTruncated)
    }
    let request = try interpret(document)
    try RequestParser.checkLengths(request)
    return request
  }

  /// The longest text a request may have in each field a job document repeats, in characters: the
  /// documents and the index stay small whatever a partner sends.
  public static let maximumLengths: [(field: String, limit: Int)] = [
    ("reference", 256), ("filter", 4_096), ("job_type", 128), ("channelId", 256), ("userId", 256),
    ("fileType", 32), ("exportFilters", 4_096),
  ]

  /// Throws when an echoed field is longer than ``maximumLengths`` allows, naming the field and the limit.
  static func checkLengths(_ request: ExportRequest) throws(RequestError) {
    let key = request.dialect == .elasticPath ? "data." : ""
    let echo = request.eshopbox
    let exportFilters = echo.map { $0.exportFilters.reduce(0) { $0 + $1.key.count + $1.value.count } }
    let lengths: [String: Int?] = [
      "reference": request.reference?.count, "filter": request.filter.count,
      "job_type": request.jobType.count,
      "channelId": echo?.channelId?.count, "userId": echo?.userId?.count, "fileType": echo?.fileType.count,
      "exportFilters": exportFilters,
    ]
    for (field, limit) in maximumLengths {
      guard let length = lengths[field] ?? nil, length > limit else { continue }
      let name =
        request.dialect == .eshopbox && field == "job_type"
        ? "jobType"
        : request.dialect == .eshopbox && field == "filter" ? "exportFilters" : field
      throw RequestError("\(key)\(name): at most \(limit) characters, got \(length)")
    }
  }

  /// Reads the dialect's shape into the normal form.
  func interpret(_ document: JSONValue) throws(RequestError) -> ExportRequest {
    guard case .object = document else {
      throw RequestError("request: expected a JSON object, found \(document.kind)")
    }
    if let data = document["data"] {
      return try ElasticPathRequest.interpret(data)
    }
    if document["jobType"] != nil {
      return try EshopboxRequest(catalog: catalog).interpret(document)
    }
    throw RequestError(
      "request: expected \"data\" (Elastic Path: {\"data\": {\"type\": \"job\", \"job_type\": …}}) or \"jobType\" (Eshopbox)"
    )
  }

  /// Checks the job type, filter and columns against the catalog.
  public func validate(_ request: ExportRequest) throws(RequestError) {
    let key = request.dialect == .elasticPath ? "data." : ""
    guard let jobType = catalog.jobType(named: request.jobType) else {
      let name = request.dialect == .elasticPath ? "job_type" : "jobType"
      throw RequestError(
        "\(key)\(name): unknown job type '\(request.jobType)' (job types: \(catalog.names.joined(separator: ", ")))"
      )
    }
    do {
      _ = try FilterCompiler(jobType: jobType).compile(request.filter)
    } catch {
      throw RequestError(error.description)
    }
    if let window = request.window { try ScheduleFields.validate(window, of: jobType) }
    if let columns = request.columns {
      if columns.isEmpty { throw RequestError("\(key)columns: name at least one column") }
      var seen = Set<String>()
      for column in columns {
        guard jobType.column(named: column) != nil else {
          throw RequestError(
            "\(key)columns: unknown column '\(column)' (columns: \(jobType.columns.map(\.name).joined(separator: ", ")))"
          )
        }
        guard seen.insert(column).inserted else {
          throw RequestError("\(key)columns: '\(column)' is named twice")
        }
      }
    }
  }
}

/// The Elastic Path dialect: `{"data": {"type": "job", "job_type": …, "filter": …}}`.
enum ElasticPathRequest {
  static func interpret(_ data: JSONValue) throws(RequestError) -> ExportRequest {
    guard case .object = data else { throw RequestError("data: expected an object, found \(data.kind)") }
    guard let type = data["type"] else { throw RequestError("data.type: missing; it must be \"job\"") }
    guard type == .string("job") else { throw RequestError("data.type: must be \"job\"") }
    let jobType = try string(data, "job_type", required: true)!
    let filter = try string(data, "filter") ?? ""
    let reference = try string(data, "reference")
    let columns = try RequestFields.columns(data, key: "data.columns")
    let format = try RequestFields.format(data, key: "data.format")
    let csv = try RequestFields.csvOptions(data, format: format, path: "data.")
    let key = try RequestFields.idempotencyKey(data, path: "data.idempotency_key")
    let schedule = try ScheduleFields.schedule(data)
    let window = try ScheduleFields.window(data, scheduled: schedule != nil)
    let split = try RequestFields.split(data, path: "data.split")
    return ExportRequest(
      dialect: .elasticPath, jobType: jobType, filter: filter, reference: reference, columns: columns,
      format: format, csv: csv, idempotencyKey: key, schedule: schedule, window: window, split: split)
  }

  private static func string(_ data: JSONValue, _ key: String, required: Bool = false) throws(RequestError)
    -> String?
  {
    try RequestFields.string(data, key, path: "data.\(key)", required: required)
  }
}

/// Reading the optional keys both dialects share, with errors that name the key.
enum RequestFields {
  static func string(_ object: JSONValue, _ key: String, path: String, required: Bool = false)
    throws(RequestError)
    -> String?
  {
    guard let value = object[key], value != .null else {
      if required { throw RequestError("\(path): missing") }
      return nil
    }
    guard case .string(let text) = value else {
      throw RequestError("\(path): expected a string, found \(value.kind)")
    }
    return text
  }

  static func columns(_ object: JSONValue, key path: String) throws(RequestError) -> [String]? {
    guard let value = object["columns"], value != .null else { return nil }
    guard case .array(let items) = value else {
      throw RequestError("\(path): expected an array of column names, found \(value.kind)")
    }
    var columns: [String] = []
    for (position, item) in items.enumerated() {
      guard case .string(let name) = item else {
        throw RequestError("\(path)[\(position)]: expected a column name, found \(item.kind)")
      }
      columns.append(name)
    }
    return columns
  }

  /// `format` (any case); `fallback` when the request has none.
  static func format(_ object: JSONValue, key path: String, fallback: ExportRequest.Format = .csv)
    throws(RequestError) -> ExportRequest.Format
  {
    guard let name = try string(object, "format", path: path) else { return fallback }
    guard let known = ExportRequest.Format(named: name) else {
      throw RequestError("\(path): unknown format '\(name)' (formats: \(ExportRequest.Format.names))")
    }
    return known
  }

  /// `idempotency_key`: a non-empty string of at most 255 characters.
  static func idempotencyKey(_ object: JSONValue, path: String) throws(RequestError) -> String? {
    guard let key = try string(object, "idempotency_key", path: path) else { return nil }
    guard !key.isEmpty, key.count <= 255 else {
      throw RequestError("\(path): 1 to 255 characters, got \(key.count)")
    }
    return key
  }

  /// `split`: `{"rows": N}` or `{"bytes": "1GiB"}` (or a number of bytes); `nil` when absent.
  static func split(_ object: JSONValue, path: String) throws(RequestError) -> ExportRequest.Split? {
    guard let value = object["split"], value != .null else { return nil }
    let shape = #"expected {"rows": N} or {"bytes": "1GiB"}"#
    guard case .object(let members) = value, members.count == 1, let (key, size) = members.first else {
      throw RequestError("\(path): \(shape), found \(value.kind)")
    }
    func range(_ range: ClosedRange<Int>, _ describe: (Int) -> String) -> String {
      "\(describe(range.lowerBound)) to \(describe(range.upperBound))"
    }
    switch (key, size) {
    case ("rows", .number(let number)):
      guard let rows = Int(number), ExportRequest.Split.rowRange.contains(rows) else {
        throw RequestError(
          "\(path).rows: \(number) is out of range (\(range(ExportRequest.Split.rowRange, RequestFields.grouped)))"
        )
      }
      return .rows(rows)
    case ("bytes", .number(let number)):
      guard let bytes = Int(number), ExportRequest.Split.byteRange.contains(bytes) else {
        throw RequestError(
          "\(path).bytes: \(number) is out of range (\(range(ExportRequest.Split.byteRange, ByteSize.describe)))"
        )
      }
      return .bytes(bytes)
    case ("bytes", .string(let text)):
      guard let bytes = ByteSize.parse(text) else {
        throw RequestError("\(path).bytes: '\(text)' is not a size (write 64MiB, 1GiB or a number of bytes)")
      }
      guard ExportRequest.Split.byteRange.contains(bytes) else {
        throw RequestError(
          "\(path).bytes: '\(text)' is out of range (\(range(ExportRequest.Split.byteRange, ByteSize.describe)))"
        )
      }
      return .bytes(bytes)
    case ("rows", _), ("bytes", _):
      throw RequestError("\(path).\(key): expected a number, found \(size.kind)")
    default:
      throw RequestError("\(path): \(shape), found the key '\(key)'")
    }
  }

  /// `1234567` as `1,234,567`.
  static func grouped(_ value: Int) -> String {
    let digits = Array(String(value))
    var text = ""
    for (offset, digit) in digits.enumerated() {
      if offset > 0 && (digits.count - offset) % 3 == 0 { text.append(",") }
      text.append(digit)
    }
    return text
  }

  /// `delimiter` and `bom`, which only a CSV format takes; `nil` when the request gives neither.
  static func csvOptions(_ object: JSONValue, format: ExportRequest.Format, path prefix: String)
    throws(RequestError) -> ExportRequest.CSVOptions?
  {
    let delimiterValue = object["delimiter"].flatMap { $0 == .null ? nil : $0 }
    let bomValue = object["bom"].flatMap { $0 == .null ? nil : $0 }
    guard delimiterValue != nil || bomValue != nil else { return nil }
    guard format.isCSV else {
      let key = delimiterValue != nil ? "delimiter" : "bom"
      throw RequestError(
        "\(prefix)\(key): only CSV exports take it (this request's format is \(format.rawValue))")
    }
    var options = ExportRequest.CSVOptions()
    if let delimiterValue {
      let allowed = #"",", ";", "|" or "\t""#
      guard case .string(let text) = delimiterValue else {
        throw RequestError("\(prefix)delimiter: expected one of \(allowed), found \(delimiterValue.kind)")
      }
      guard let delimiter = ExportRequest.CSVOptions.Delimiter(rawValue: text) else {
        throw RequestError("\(prefix)delimiter: '\(text)' is not allowed (delimiters: \(allowed))")
      }
      options.delimiter = delimiter
    }
    if let bomValue {
      guard case .bool(let flag) = bomValue else {
        throw RequestError("\(prefix)bom: expected true or false, found \(bomValue.kind)")
      }
      options.byteOrderMark = flag
    }
    return options
  }
}
