/// Why a partners file was refused: names the file and, where it applies, the partner and the job type.
///
/// Reads like `partners.json: partner 'acme': scope 'order_export': unknown field 'colour' at 4 (…)`.
/// It never contains a token.
public struct PartnersError: Error, Sendable, Equatable, CustomStringConvertible {
  public var file: String
  public var message: String

  public init(file: String, _ message: String) {
    self.file = file
    self.message = message
  }

  public var description: String { "\(file): \(message)" }
}
