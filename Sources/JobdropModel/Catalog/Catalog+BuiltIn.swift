import FoundationEssentials

extension Catalog {
  /// The catalog over the reference commerce schema (see `jobdrop demo-data`), from `catalog.json`.
  public static let builtIn: Catalog = {
    do {
      return try Catalog.decode(PackageResources.catalog_json, origin: "built-in catalog")
    } catch {
      fatalError("the built-in catalog is invalid: \(error)")
    }
  }()

  /// The built-in catalog's JSON, the starting point for an operator's `--catalog` file.
  public static var builtInJSON: String { String(decoding: PackageResources.catalog_json, as: UTF8.self) }
}

extension JobType {
  /// Elastic Path's `order_export`: one row per order of the reference `orders` table.
  public static var orderExport: JobType { Catalog.builtIn.jobType(named: "order_export")! }
}
