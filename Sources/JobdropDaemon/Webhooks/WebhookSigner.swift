import CCrypto
import FoundationEssentials
import JobdropModel

/// Signs a webhook event as the Standard Webhooks specification says: HMAC-SHA256 with the secret's key
/// over `<webhook-id>.<webhook-timestamp>.<body>`, base64, as `v1,<signature>`.
enum WebhookSigner {
  static func signature(id: String, timestamp: Int64, body: String, secret: WebhookSecret) -> String {
    let content = Array("\(id).\(timestamp).\(body)".utf8)
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    let result = secret.key.withUnsafeBytes { key in
      HMAC(EVP_sha256(), key.baseAddress, Int32(key.count), content, content.count, &digest, &length)
    }
    precondition(result != nil, "HMAC-SHA256 failed")
    return "v1," + Data(digest.prefix(Int(length))).base64EncodedString()
  }
}
