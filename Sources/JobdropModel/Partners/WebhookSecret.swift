import FoundationEssentials

/// A Standard Webhooks signing secret: `whsec_` followed by the key in base64 (standard alphabet, with
/// padding), as the specification's reference libraries generate and read it.
public struct WebhookSecret: Sendable, Equatable, CustomStringConvertible {
  /// The HMAC-SHA256 key: the decoded bytes after `whsec_`.
  public let key: [UInt8]

  /// Reads `text`; `nil` unless it is `whsec_` and non-empty base64.
  public init?(_ text: String) {
    guard text.hasPrefix("whsec_"), let data = Data(base64Encoded: String(text.dropFirst(6))), !data.isEmpty
    else { return nil }
    key = Array(data)
  }

  /// Never the key: a secret may end up in a log line or an error.
  public var description: String { "whsec_…" }

  /// What a bad secret is told, without repeating it.
  public static let expected =
    "expected whsec_ followed by the key in base64 (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)"
}

/// Where finished jobs are announced: a partner's `webhook`, or `--webhook-url` with
/// `--webhook-secret-file` for a jobdrop without partners.
public struct WebhookTarget: Sendable, Equatable {
  /// An http:// or https:// URL.
  public var url: String
  public var secret: WebhookSecret

  public init(url: String, secret: WebhookSecret) {
    self.url = url
    self.secret = secret
  }

  /// Whether `url` is one jobdrop posts to: `http://` or `https://` and a host.
  public static func isAllowed(_ url: String) -> Bool {
    for scheme in ["https://", "http://"] where url.lowercased().hasPrefix(scheme) {
      let rest = url.dropFirst(scheme.count)
      return !rest.isEmpty && !rest.hasPrefix("/") && !url.contains(where: { $0.isWhitespace })
    }
    return false
  }
}
