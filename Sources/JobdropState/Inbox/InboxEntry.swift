import JobdropSystem

/// How jobdrop treats a name in the inbox, decided by the name alone.
public enum InboxEntryKind: Sendable, Equatable {
  /// `*.json`: a request to take.
  case request
  /// A dotfile or an upload in flight (`.part`, `.filepart`, `.tmp`, `.partial`, `~`): never read.
  case inFlight
  /// Anything else: not a request; left where it is.
  case other

  /// The in-flight suffixes SFTP and other clients use while uploading.
  public static let inFlightSuffixes = [".part", ".filepart", ".tmp", ".partial", "~"]

  public init(_ name: FileName) {
    if name.hasPrefix(".") || InboxEntryKind.inFlightSuffixes.contains(where: name.hasSuffix) {
      self = .inFlight
    } else if name.hasSuffix(".json") {
      self = .request
    } else {
      self = .other
    }
  }
}
