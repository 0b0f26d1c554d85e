import FoundationEssentials
import JobdropCrypto

/// Job ids: random UUID v4 in lowercase, from the system's secure random source.
public enum JobID {
  /// A new random id, e.g. `3f1c2a9e-8b7d-4c1e-9f0a-1b2c3d4e5f60`.
  ///
  /// Its 122 random bits come from `SystemRandomNumberGenerator` (one `getrandom(2)` call each 8 bytes);
  /// Foundation's `UUID()` opens, reads and closes `/dev/urandom` for each id, on a lone drop's path.
  public static func make() -> String {
    var generator = SystemRandomNumberGenerator()
    let high = generator.next() & ~0xF000 | 0x4000  // version 4
    let low = generator.next() & ~(0xC << 60) | (0x8 << 60)  // variant 10
    let bytes = withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { Array($0) }
    let uuid = UUID(
      uuid: (
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
        bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
      ))
    return uuid.uuidString.lowercased()
  }

  /// The id named by `parts` (a UUID v8 made of their SHA-256): the same parts, the same id, on every
  /// node and after every restart. A schedule's id comes from its partner and file name, a run's from
  /// its schedule and time, so a run is never made twice.
  public static func derived(_ parts: String...) -> String {
    var hex = Array(SHA256Digest.hex(of: Array(parts.joined(separator: "\u{0}").utf8)).prefix(32))
    let digits = Array("0123456789abcdef")
    hex[12] = "8"  // version 8
    hex[16] = digits[(digits.firstIndex(of: hex[16])! & 0x3) | 0x8]  // variant 10
    return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }.joined(separator: "-")
  }

  /// Whether `text` is a lowercase UUID (as every job id is); guards paths built from ids.
  public static func isValid(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard bytes.count == 36 else { return false }
    for (index, byte) in bytes.enumerated() {
      if index == 8 || index == 13 || index == 18 || index == 23 {
        if byte != 0x2D { return false }
      } else if !((0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)) {
        return false
      }
    }
    return true
  }
}
