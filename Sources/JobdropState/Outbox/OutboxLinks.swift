/// The URLs documents use: paths relative to the outbox root, or absolute under `--base-url`.
public struct OutboxLinks: Sendable, Equatable {
  /// The base URL with no trailing slash, or `nil` for relative paths.
  public let baseURL: String?

  public init(baseURL: String?) {
    var base = baseURL
    while base?.hasSuffix("/") == true { base?.removeLast() }
    self.baseURL = base.flatMap { $0.isEmpty ? nil : $0 }
  }

  /// `jobs/<id>.json`
  public func job(id: String) -> String { url("jobs/\(id).json") }

  /// `schedules/<id>.json`
  public func schedule(id: String) -> String { url("schedules/\(id).json") }

  /// `files/<id>/<name>`
  public func file(id: String, name: String) -> String { url("files/\(id)/\(OutboxLinks.escape(name))") }

  private func url(_ path: String) -> String { baseURL.map { "\($0)/\(path)" } ?? path }

  /// Percent-encodes everything but unreserved URL characters.
  static func escape(_ name: String) -> String {
    // Most names are unreserved characters only: returned as they are.
    if name.utf8.allSatisfy({ OutboxLinks.isUnreserved($0) }) { return name }
    var result = ""
    for byte in name.utf8 {
      if OutboxLinks.isUnreserved(byte) {
        result.unicodeScalars.append(Unicode.Scalar(byte))
      } else {
        result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
      }
    }
    return result
  }

  /// RFC 3986's unreserved characters: letters, digits, `-`, `.`, `_` and `~`.
  private static func isUnreserved(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E: true
    default: false
    }
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
