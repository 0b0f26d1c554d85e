import CCrypto

#if canImport(Glibc)
  import Glibc
#endif

/// The MD5 of a file's content, as hex: what S3 reports as the ETag of an object put in one piece (and
/// in parts, ``multipartETag(of:size:partSize:)``).
public enum MD5Digest {
  /// The MD5 of everything `descriptor` holds (read with `pread`), or `nil` when it cannot be read.
  public static func hex(of descriptor: Int32) -> String? {
    guard let digest = digest(of: descriptor, from: 0, count: nil) else { return nil }
    return hex(digest)
  }

  /// The ETag S3 gives an object put in parts of `partSize` from `descriptor`'s `size` bytes: the MD5 of
  /// the parts' MD5s, `-` and the number of parts.
  public static func multipartETag(of descriptor: Int32, size: Int64, partSize: Int64) -> String? {
    var digests: [UInt8] = []
    var offset: Int64 = 0
    var parts = 0
    while offset < size || parts == 0 {
      let count = min(partSize, size - offset)
      guard let digest = digest(of: descriptor, from: offset, count: count) else { return nil }
      digests += digest
      offset += count
      parts += 1
    }
    guard let whole = digest(of: digests) else { return nil }
    return hex(whole) + "-\(parts)"
  }

  /// The MD5 of `count` bytes of `descriptor` from `start` (to its end when `count` is `nil`).
  private static func digest(of descriptor: Int32, from start: Int64, count: Int64?) -> [UInt8]? {
    guard let context = EVP_MD_CTX_new() else { return nil }
    defer { EVP_MD_CTX_free(context) }
    guard EVP_DigestInit_ex(context, EVP_md5(), nil) == 1 else { return nil }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var offset = off_t(start)
    var left = count ?? Int64.max
    while left > 0 {
      let wanted = Int(min(Int64(buffer.count), left))
      let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, wanted, offset) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { return nil }
      if count == 0 { break }
      guard EVP_DigestUpdate(context, buffer, count) == 1 else { return nil }
      offset += off_t(count)
      left -= Int64(count)
    }
    var digest = [UInt8](repeating: 0, count: 16)
    var length: UInt32 = 0
    guard EVP_DigestFinal_ex(context, &digest, &length) == 1, length == 16 else { return nil }
    return digest
  }

  private static func digest(of bytes: [UInt8]) -> [UInt8]? {
    guard let context = EVP_MD_CTX_new() else { return nil }
    defer { EVP_MD_CTX_free(context) }
    var digest = [UInt8](repeating: 0, count: 16)
    var length: UInt32 = 0
    guard EVP_DigestInit_ex(context, EVP_md5(), nil) == 1, EVP_DigestUpdate(context, bytes, bytes.count) == 1,
      EVP_DigestFinal_ex(context, &digest, &length) == 1
    else { return nil }
    return digest
  }

  private static func hex(_ digest: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
  }
}
