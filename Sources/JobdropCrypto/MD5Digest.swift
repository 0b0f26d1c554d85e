import CCrypto

#if canImport(Glibc)
  import Glibc
#endif

/// The MD5 of a file's content, as hex: what S3 reports as the ETag of an object put in one piece.
public enum MD5Digest {
  /// The MD5 of everything `descriptor` holds (read with `pread`), or `nil` when it cannot be read.
  public static func hex(of descriptor: Int32) -> String? {
    guard let context = EVP_MD_CTX_new() else { return nil }
    defer { EVP_MD_CTX_free(context) }
    guard EVP_DigestInit_ex(context, EVP_md5(), nil) == 1 else { return nil }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var offset: off_t = 0
    while true {
      let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { return nil }
      if count == 0 { break }
      guard EVP_DigestUpdate(context, buffer, count) == 1 else { return nil }
      offset += off_t(count)
    }
    var digest = [UInt8](repeating: 0, count: 16)
    var length: UInt32 = 0
    guard EVP_DigestFinal_ex(context, &digest, &length) == 1, length == 16 else { return nil }
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
  }
}
