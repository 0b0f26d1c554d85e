/// Why a catalog file was refused at start: names the file, the job type and the key.
///
/// Reads like `shop.json: job type 'refunds': fields[2] 'colour': enum fields need "values"`.
public struct CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
  public var origin: String
  public var message: String

  public init(origin: String, _ message: String) {
    self.origin = origin
    self.message = message
  }

  public var description: String { "\(origin): \(message)" }
}
