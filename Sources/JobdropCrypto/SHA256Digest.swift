import CCrypto

#if canImport(Glibc)
  import Glibc
#endif

/// An incremental SHA-256 over OpenSSL's EVP interface (hardware-accelerated where the CPU has SHA-NI).
///
/// OpenSSL's calls report failure only when it cannot allocate or its SHA-256 is missing, which no input
/// can cause: each result is checked, and a failure stops with OpenSSL's reason rather than publishing a
/// wrong digest.
public final class SHA256Digest {
  private let context: OpaquePointer

  public init() {
    guard let context = EVP_MD_CTX_new() else { SHA256Digest.fail("EVP_MD_CTX_new") }
    self.context = context
    guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else { SHA256Digest.fail("EVP_DigestInit_ex") }
  }

  private static func fail(_ call: String) -> Never {
    let code = ERR_get_error()
    let reason = ERR_reason_error_string(code).map { String(cString: $0) } ?? "error \(code)"
    preconditionFailure("OpenSSL \(call) failed: \(reason)")
  }

  deinit { EVP_MD_CTX_free(context) }

  /// Adds `bytes` to the digest.
  public func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
    guard EVP_DigestUpdate(context, base, bytes.count) == 1 else { SHA256Digest.fail("EVP_DigestUpdate") }
  }

  /// The digest as 64 lowercase hex digits; the object must not be updated afterwards.
  public func finalize() -> String {
    var output = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    guard EVP_DigestFinal_ex(context, &output, &length) == 1, length == 32 else {
      SHA256Digest.fail("EVP_DigestFinal_ex")
    }
    let digits = Array("0123456789abcdef".utf8)
    var text = [UInt8]()
    text.reserveCapacity(64)
    for byte in output.prefix(Int(length)) {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: text, as: UTF8.self)
  }

  /// The SHA-256 of `bytes` in hex.
  /// The SHA-256 of everything in the file `descriptor` (read with `pread`), or `nil` on a read error.
  public static func hex(of descriptor: Int32) -> String? {
    let digest = SHA256Digest()
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var offset: off_t = 0
    while true {
      let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { return nil }
      if count == 0 { break }
      buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
      offset += off_t(count)
    }
    return digest.finalize()
  }

  public static func hex(of bytes: [UInt8]) -> String {
    let digest = SHA256Digest()
    bytes.withUnsafeBytes { digest.update($0) }
    return digest.finalize()
  }
}
