import CCrypto

/// HMAC-SHA256 (RFC 2104) through OpenSSL.
public enum HMACSHA256 {
  /// The 32-byte code of `content` under `key`.
  public static func code(of content: [UInt8], key: UnsafeRawBufferPointer) -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    let result = HMAC(
      EVP_sha256(), key.baseAddress, Int32(key.count), content, content.count, &digest, &length)
    precondition(result != nil, "HMAC-SHA256 failed")
    return Array(digest.prefix(Int(length)))
  }
}
