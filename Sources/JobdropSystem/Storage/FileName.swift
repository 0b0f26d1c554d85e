/// A single path component as the kernel stores it: bytes, not necessarily UTF-8.
public struct FileName: Hashable, Sendable, CustomStringConvertible {
  /// The raw bytes, without a terminating NUL.
  public let bytes: [UInt8]

  public init(bytes: [UInt8]) { self.bytes = bytes }
  public init(_ string: String) { self.bytes = Array(string.utf8) }

  /// The name decoded as UTF-8, if it is valid UTF-8.
  public var utf8String: String? { String(validating: bytes, as: UTF8.self) }

  /// A printable form: invalid UTF-8 becomes U+FFFD and control characters are escaped.
  public var display: String {
    // Most names hold no control character: decoded at once (appending scalar by scalar cost about 250
    // instructions a byte, and paths for messages are built at every file written).
    if !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return String(decoding: bytes, as: UTF8.self) }
    var result = ""
    for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
      if scalar.value < 0x20 || scalar.value == 0x7F {
        result += "\\u{\(String(scalar.value, radix: 16))}"
      } else {
        result.unicodeScalars.append(scalar)
      }
    }
    return result
  }

  public var description: String { display }

  /// Whether the name ends with `suffix` (byte-wise).
  public func hasSuffix(_ suffix: String) -> Bool {
    bytes.count >= suffix.utf8.count && bytes.suffix(suffix.utf8.count).elementsEqual(suffix.utf8)
  }

  /// Whether the name starts with `prefix` (byte-wise).
  public func hasPrefix(_ prefix: String) -> Bool { bytes.starts(with: prefix.utf8) }

  /// Calls `body` with a NUL-terminated copy of the name.
  public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    try (bytes + [0]).withUnsafeBufferPointer { buffer in
      try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
    }
  }
}
