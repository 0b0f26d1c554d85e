/// Job ids: random UUID v4 in lowercase, from the system's secure random source (`getrandom`).
public enum JobID {
  /// A new random id, e.g. `3f1c2a9e-8b7d-4c1e-9f0a-1b2c3d4e5f60`.
  public static func make() -> String {
    var generator = SystemRandomNumberGenerator()
    var words = (generator.next(), generator.next())
    var bytes = withUnsafeBytes(of: &words) { Array($0) }
    bytes[6] = bytes[6] & 0x0F | 0x40
    bytes[8] = bytes[8] & 0x3F | 0x80
    let digits = Array("0123456789abcdef".utf8)
    var text = [UInt8]()
    for (index, byte) in bytes.enumerated() {
      if index == 4 || index == 6 || index == 8 || index == 10 { text.append(0x2D) }
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: text, as: UTF8.self)
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
