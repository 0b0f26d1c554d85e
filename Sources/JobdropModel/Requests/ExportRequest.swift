/// A partner's request in one normal form, whichever dialect it arrived in.
public struct ExportRequest: Codable, Sendable, Equatable {
  /// The API dialect a request file is written in.
  public enum Dialect: String, Codable, Sendable {
    /// Elastic Path Commerce "Exporter Service": `{"data": {"type": "job", …}}`.
    case elasticPath = "elastic_path"
    /// Eshopbox "Export Job": `{"jobType": …, "exportFilters": {…}}`.
    case eshopbox
  }

  /// The file format of the export.
  public enum Format: String, Codable, Sendable, CaseIterable {
    case csv
    case csvGzip = "csv.gz"
    case jsonLines = "jsonl"
    case jsonLinesGzip = "jsonl.gz"
    case csvZstd = "csv.zst"
    case jsonLinesZstd = "jsonl.zst"
    case xlsx
    case parquet

    /// The file name extension, without the dot.
    public var fileExtension: String { rawValue }

    /// Whether the file is CSV (plain or gzipped), where `delimiter` and `bom` apply.
    public var isCSV: Bool { self == .csv || self == .csvGzip || self == .csvZstd }

    /// Whether the file is gzipped.
    public var isGzipped: Bool { self == .csvGzip || self == .jsonLinesGzip }

    /// Whether the file is Zstandard-compressed.
    public var isZstd: Bool { self == .csvZstd || self == .jsonLinesZstd }

    /// The format named `name`, whatever its case (`CSV`, `jsonl.GZ`).
    public init?(named name: String) { self.init(rawValue: name.lowercased()) }

    /// `csv, csv.gz, jsonl, jsonl.gz, csv.zst, jsonl.zst, xlsx, parquet`, for error messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
  }

  /// How a CSV export separates and starts: `delimiter` and `bom` of a request.
  public struct CSVOptions: Codable, Sendable, Equatable {
    /// The field separator: `,` `;` `|` or a tab.
    public var delimiter: Delimiter
    /// Whether the file starts with a UTF-8 byte order mark.
    public var byteOrderMark: Bool

    public enum Delimiter: String, Codable, Sendable, CaseIterable {
      case comma = ","
      case semicolon = ";"
      case pipe = "|"
      case tab = "\t"

      /// The byte written between fields.
      public var byte: UInt8 { rawValue.utf8.first! }
    }

    public init(delimiter: Delimiter = .comma, byteOrderMark: Bool = false) {
      self.delimiter = delimiter
      self.byteOrderMark = byteOrderMark
    }

    enum CodingKeys: String, CodingKey {
      case delimiter
      case byteOrderMark = "bom"
    }
  }

  /// How an export is cut into parts (`split`): at most `rows` rows a part, or parts of about `bytes`.
  public enum Split: Codable, Sendable, Equatable {
    case rows(Int)
    case bytes(Int)

    public static let rowRange = 1_000...10_000_000
    public static let byteRange = (1 << 20)...(5 << 30)

    enum CodingKeys: String, CodingKey { case rows, bytes }

    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      if let rows = try container.decodeIfPresent(Int.self, forKey: .rows) {
        self = .rows(rows)
      } else {
        self = .bytes(try container.decode(Int.self, forKey: .bytes))
      }
    }

    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      switch self {
      case .rows(let rows): try container.encode(rows, forKey: .rows)
      case .bytes(let bytes): try container.encode(bytes, forKey: .bytes)
      }
    }
  }

  public var dialect: Dialect
  /// The job type's name.
  public var jobType: String
  /// The filter in the Elastic Path language; empty for none.
  public var filter: String
  /// The partner's own id for the request, echoed back in the job.
  public var reference: String?
  /// A subset and order of the job type's columns; `nil` for all of them.
  public var columns: [String]?
  public var format: Format
  /// `delimiter` and `bom`, when the request gave either (CSV formats only).
  public var csv: CSVOptions?
  /// The partner's key for this request: while a job of the partner with the same key is live, a request
  /// with it creates no job (`idempotency_key`, at most 255 characters).
  public var idempotencyKey: String?
  /// What an Eshopbox request said, echoed back in its job documents.
  public var eshopbox: EshopboxEcho?
  /// A standing request's times (``ScheduleSpec``): it makes a job at each of them, none itself.
  public var schedule: ScheduleSpec?
  /// Which rows each run of a standing request takes (``WindowSpec``).
  public var window: WindowSpec?
  /// Parts instead of one file, with a manifest.
  public var split: Split?

  /// What a job's record keeps of its request: a standing request's schedule and window are kept with the
  /// schedule (read again from its request file), and a run's window with the run.
  enum CodingKeys: String, CodingKey {
    case dialect, jobType, filter, reference, columns, format, csv, idempotencyKey, eshopbox, split
  }

  /// The Eshopbox request fields a job document repeats.
  public struct EshopboxEcho: Codable, Sendable, Equatable {
    public var jobType: String
    public var channelId: String?
    public var userId: String?
    public var fileType: String
    /// `exportFilters` as sent (objects as compact JSON text).
    public var exportFilters: [String: String]
  }

  public init(
    dialect: Dialect = .elasticPath, jobType: String, filter: String = "", reference: String? = nil,
    columns: [String]? = nil, format: Format = .csv, csv: CSVOptions? = nil, idempotencyKey: String? = nil,
    eshopbox: EshopboxEcho? = nil, schedule: ScheduleSpec? = nil, window: WindowSpec? = nil,
    split: Split? = nil
  ) {
    self.split = split
    self.schedule = schedule
    self.window = window
    self.dialect = dialect
    self.jobType = jobType
    self.filter = filter
    self.reference = reference
    self.columns = columns
    self.format = format
    self.csv = csv
    self.idempotencyKey = idempotencyKey
    self.eshopbox = eshopbox
  }
}

extension ExportRequest {
  /// The request keys whose values differ from `other`'s, named as this request's dialect names them
  /// (what a repeat of an idempotency key must keep the same); the reference and the key itself are not
  /// compared.
  public func differences(from other: ExportRequest) -> [String] {
    let isEshopbox = dialect == .eshopbox
    var differing: [String] = []
    if jobType != other.jobType { differing.append(isEshopbox ? "jobType" : "job_type") }
    if filter != other.filter || isEshopbox && eshopboxScopeDiffers(from: other) {
      differing.append(isEshopbox ? "exportFilters" : "filter")
    }
    if format != other.format { differing.append(isEshopbox ? "fileType" : "format") }
    if columns != other.columns { differing.append("columns") }
    if csv != other.csv { differing.append("csv") }
    if split != other.split { differing.append("split") }
    return differing
  }

  /// Whether an Eshopbox request's channel, user or export filters differ from `other`'s.
  private func eshopboxScopeDiffers(from other: ExportRequest) -> Bool {
    eshopbox?.exportFilters != other.eshopbox?.exportFilters
      || eshopbox?.channelId != other.eshopbox?.channelId
      || eshopbox?.userId != other.eshopbox?.userId
  }
}
