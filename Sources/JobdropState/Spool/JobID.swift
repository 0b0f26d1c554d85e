import FoundationEssentials

/// Job ids: random UUID v4 in lowercase (Foundation's `UUID`, from the system's secure random source).
public enum JobID {
  /// A new random id, e.g. `3f1c2a9e-8b7d-4c1e-9f0a-1b2c3d4e5f60`.
  public static func make() -> String { UUID().uuidString.lowercased() }

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
