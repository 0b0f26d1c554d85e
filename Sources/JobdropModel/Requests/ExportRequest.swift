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

    /// The file name extension, without the dot.
    public var fileExtension: String { rawValue }
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
  /// What an Eshopbox request said, echoed back in its job documents.
  public var eshopbox: EshopboxEcho?

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
    columns: [String]? = nil, format: Format = .csv, eshopbox: EshopboxEcho? = nil
  ) {
    self.dialect = dialect
    self.jobType = jobType
    self.filter = filter
    self.reference = reference
    self.columns = columns
    self.format = format
    self.eshopbox = eshopbox
  }
}
