import JobdropModel
import JobdropSystem

/// The rows a run of a standing request takes: those whose `field` lies in `[from, to)` (whole seconds).
public struct RunWindow: Codable, Sendable, Equatable {
  public var field: String
  public var from: Timestamp
  public var to: Timestamp

  public init(field: String, from: Timestamp, to: Timestamp) {
    self.field = field
    self.from = from
    self.to = to
  }

  /// The window as a filter of the request's language, ANDed with the request's filter and the partner's
  /// scope (its values bound as parameters like every other).
  public var filter: String { "ge(\(field),\(from.milliseconds)):lt(\(field),\(to.milliseconds))" }
}
