/// One partner of a shared jobdrop: the id that names its folders, the token its web clients present, and
/// what it may export.
///
/// Its description never shows the token (a partner is logged as `partner 'acme'`).
public struct Partner: Sendable, Equatable, CustomStringConvertible {
  /// How many of a partner's jobs may be pending or started at once, unless its entry says otherwise.
  public static let defaultMaximumPending = 100

  /// `[a-z0-9][a-z0-9_-]{0,62}`: it names `inbox/<id>/` and `outbox/<id>/`.
  public var id: String
  /// The secret a web client presents (Bearer, or basic auth's password); at least 32 characters.
  public var token: String
  /// For each job type name (`*`: every job type not named), the filter every job of this partner is
  /// ANDed with. A job type with neither an entry nor `*` is not enabled.
  public var scopes: [String: String]
  /// Job types `*` does not compile against (a field they lack): not enabled, with the reason.
  public var excluded: [String: String]
  /// At most this many of the partner's jobs pending or started; past it a request fails at once.
  public var maximumPending: Int
  /// Where finished jobs are announced, if anywhere.
  public var webhook: WebhookTarget?
  /// Where successful exports are pushed, if anywhere (`deliver`).
  public var deliver: DeliveryTarget?
  /// At most this many standing requests (`max_schedules`, default 20).
  public var maximumSchedules = Partner.defaultMaximumSchedules
  public static let defaultMaximumSchedules = 20

  public init(
    id: String, token: String, scopes: [String: String], excluded: [String: String] = [:],
    maximumPending: Int = Partner.defaultMaximumPending, webhook: WebhookTarget? = nil
  ) {
    self.id = id
    self.token = token
    self.scopes = scopes
    self.excluded = excluded
    self.maximumPending = maximumPending
    self.webhook = webhook
  }

  /// What this partner may export of `jobType`: `.enabled(scope)` with the filter ANDed to each request,
  /// or `.notEnabled(message)` with the error its job gets.
  public func access(to jobType: String) -> Access {
    if let reason = excluded[jobType] {
      return .notEnabled(
        "job type '\(jobType)' is not enabled for partner '\(id)' (its scope \"*\" does not apply: \(reason))"
      )
    }
    guard let scope = scopes[jobType] ?? scopes["*"] else {
      return .notEnabled("job type '\(jobType)' is not enabled for partner '\(id)'")
    }
    return .enabled(scope: scope)
  }

  /// Whether a partner may run a job type, and within which scope.
  public enum Access: Sendable, Equatable {
    case enabled(scope: String)
    case notEnabled(String)
  }

  public var description: String { "partner '\(id)'" }

  /// Whether `id` is a valid partner id: `[a-z0-9][a-z0-9_-]{0,62}`.
  public static func isValidID(_ id: String) -> Bool {
    let bytes = Array(id.utf8)
    guard (1...63).contains(bytes.count) else { return false }
    for (offset, byte) in bytes.enumerated() {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): continue
      case UInt8(ascii: "_") where offset > 0, UInt8(ascii: "-") where offset > 0: continue
      default: return false
      }
    }
    return true
  }

  /// Whether `token` is usable as a Bearer token and a basic-auth password (RFC 6750 `b64token`
  /// characters), so it can be written into a web server's configuration as it is.
  public static func isValidToken(_ token: String) -> Bool {
    token.utf8.allSatisfy { byte in
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        true
      default: "-._~+/=".utf8.contains(byte)
      }
    }
  }
}
