import FoundationEssentials
import JobdropCrypto
import JobdropModel

/// Signs a webhook event as the Standard Webhooks specification says: HMAC-SHA256 with the secret's key
/// over `<webhook-id>.<webhook-timestamp>.<body>`, base64, as `v1,<signature>`.
enum WebhookSigner {
  static func signature(id: String, timestamp: Int64, body: String, secret: WebhookSecret) -> String {
    let content = Array("\(id).\(timestamp).\(body)".utf8)
    let code = secret.key.withUnsafeBytes { HMACSHA256.code(of: content, key: $0) }
    return "v1," + Data(code).base64EncodedString()
  }
}
