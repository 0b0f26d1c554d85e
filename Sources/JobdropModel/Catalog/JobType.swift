/// A named, declared export: where its rows come from, its CSV columns and its filterable fields.
///
/// Job types are data: the built-in ones are declared in `Catalog/catalog.json`, in the same shape an
/// operator's `--catalog` file uses.
public struct JobType: Codable, Sendable, Equatable {
  /// The name requests use in `job_type` (or `jobType`).
  public var name: String
  /// One line for partners.
  public var summary: String
  /// A table, a view, or a parenthesised `SELECT` with an alias, used as `FROM <source>`.
  public var source: String
  /// The CSV columns in their default order.
  public var columns: [Column]
  /// The fields filters may name.
  public var fields: [FilterField]
  /// The Eshopbox `exportFilters` keys this job type supports, and what each narrows.
  public var eshopbox: [String: EshopboxKey]?
  /// The order rows are stored in (e.g. `created_at, id`). Exports stream in table order; where a
  /// database's plan could change that order (PostgreSQL joining a `related` field), this is used to
  /// keep it.
  public var orderBy: String?

  public init(
    name: String, summary: String, source: String, columns: [Column], fields: [FilterField],
    eshopbox: [String: EshopboxKey]? = nil
  ) {
    self.name = name
    self.summary = summary
    self.source = source
    self.columns = columns
    self.fields = fields
    self.eshopbox = eshopbox
  }

  /// The field called `name`, if any.
  public func field(named name: String) -> FilterField? { fields.first { $0.name == name } }

  /// The column called `name`, if any.
  public func column(named name: String) -> Column? { columns.first { $0.name == name } }
}
