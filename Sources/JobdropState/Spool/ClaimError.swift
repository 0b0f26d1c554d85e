import JobdropSystem

/// Why a claim took nothing: the partner changed the inbox entry between its read and its claim.
///
/// Neither is a fault: the request is simply gone, or it is a new upload that the intake will see (and
/// claim) on its own.
public enum ClaimError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The name left the inbox (deleted or renamed away).
  case gone(FileName)
  /// The name now holds another file than the one that was read; it was left in the inbox.
  case replaced(FileName)

  public var description: String {
    switch self {
    case .gone(let name): "\(name.display) left the inbox before it was claimed"
    case .replaced(let name): "\(name.display) was replaced while it was claimed; the new file is taken anew"
    }
  }
}
