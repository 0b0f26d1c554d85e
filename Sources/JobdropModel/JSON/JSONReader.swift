/// A strict RFC 8259 JSON parser for untrusted request files.
///
/// It validates UTF-8, limits nesting depth, refuses duplicate object keys, and reports errors with a
/// line and column. ``JSONReader/Failure/isTruncated`` tells a document that was cut short (a writer
/// still at work) from one that is wrong.
public struct JSONReader {
  /// The deepest nesting of arrays and objects accepted.
  public static let maximumDepth = 64

  /// Why a document is not acceptable JSON.
  public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var line: Int
    public var column: Int
    /// The input ended where more was expected: the file may still be being written.
    public var isTruncated: Bool

    public var description: String { "\(message) at line \(line), column \(column)" }
  }

  private let bytes: [UInt8]
  private var index = 0
  private var depth = 0

  private init(_ bytes: [UInt8]) { self.bytes = bytes }

  /// Parses one JSON value that must span the whole input (surrounding whitespace allowed).
  public static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
    var reader = JSONReader(bytes)
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
    reader.skipWhitespace()
    if reader.index == bytes.count { throw reader.failure("empty document", truncated: true) }
    let value = try reader.parseValue()
    reader.skipWhitespace()
    if reader.index != bytes.count { throw reader.failure("unexpected data after the JSON value") }
    return value
  }

  private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

  private func failure(_ message: String, truncated: Bool = false) -> Failure {
    var line = 1
    var lineStart = 0
    for position in 0..<min(index, bytes.count) where bytes[position] == 0x0A {
      line += 1
      lineStart = position + 1
    }
    let column = String(decoding: bytes[lineStart..<min(index, bytes.count)], as: UTF8.self).count + 1
    return Failure(message: message, line: line, column: column, isTruncated: truncated)
  }

  private func endOrUnexpected(_ expected: String) -> Failure {
    guard let byte = current else {
      return failure("unexpected end of input, expected \(expected)", truncated: true)
    }
    let shown =
      byte >= 0x20 && byte < 0x7F
      ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    return failure("unexpected \(shown), expected \(expected)")
  }

  private mutating func skipWhitespace() {
    while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
  }

  private mutating func parseValue() throws(Failure) -> JSONValue {
    guard let byte = current else { throw endOrUnexpected("a value") }
    switch byte {
    case UInt8(ascii: "{"): return try parseObject()
    case UInt8(ascii: "["): return try parseArray()
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"): try literal("true"); return .bool(true)
    case UInt8(ascii: "f"): try literal("false"); return .bool(false)
    case UInt8(ascii: "n"): try literal("null"); return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
    default: throw endOrUnexpected("a value")
    }
  }

  private mutating func literal(_ word: StaticString) throws(Failure) {
    let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
    for byte in expected {
      guard current == byte else {
        throw current == nil ? endOrUnexpected("'\(word)'") : failure("invalid literal, expected '\(word)'")
      }
      index += 1
    }
  }

  private mutating func enter() throws(Failure) {
    depth += 1
    if depth > JSONReader.maximumDepth {
      throw failure("nested deeper than \(JSONReader.maximumDepth) levels")
    }
  }

  private mutating func parseObject() throws(Failure) -> JSONValue {
    try enter()
    index += 1
    var members: [(key: String, value: JSONValue)] = []
    var seen = Set<String>()
    skipWhitespace()
    if current == UInt8(ascii: "}") {
      index += 1
      depth -= 1
      return .object(members)
    }
    while true {
      skipWhitespace()
      guard current == UInt8(ascii: "\"") else { throw endOrUnexpected("a member name in quotes") }
      let keyStart = index
      let key = try parseString()
      guard seen.insert(key).inserted else {
        index = keyStart
        throw failure("duplicate key \"\(key)\"")
      }
      skipWhitespace()
      guard current == UInt8(ascii: ":") else { throw endOrUnexpected("':'") }
      index += 1
      skipWhitespace()
      members.append((key, try parseValue()))
      skipWhitespace()
      if current == UInt8(ascii: ",") {
        index += 1
        continue
      }
      guard current == UInt8(ascii: "}") else { throw endOrUnexpected("',' or '}'") }
      index += 1
      depth -= 1
      return .object(members)
    }
  }

  private mutating func parseArray() throws(Failure) -> JSONValue {
    try enter()
    index += 1
    var elements: [JSONValue] = []
    skipWhitespace()
    if current == UInt8(ascii: "]") {
      index += 1
      depth -= 1
      return .array(elements)
    }
    while true {
      skipWhitespace()
      elements.append(try parseValue())
      skipWhitespace()
      if current == UInt8(ascii: ",") {
        index += 1
        continue
      }
      guard current == UInt8(ascii: "]") else { throw endOrUnexpected("',' or ']'") }
      index += 1
      depth -= 1
      return .array(elements)
    }
  }

  private mutating func parseNumber() throws(Failure) -> JSONValue {
    let start = index
    if current == UInt8(ascii: "-") { index += 1 }
    guard let first = current, first >= 0x30, first <= 0x39 else { throw endOrUnexpected("a digit") }
    index += 1
    if first != 0x30 { skipDigits() }
    if current == UInt8(ascii: ".") {
      index += 1
      guard let digit = current, digit >= 0x30, digit <= 0x39 else { throw endOrUnexpected("a digit") }
      skipDigits()
    }
    if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
      index += 1
      if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
      guard let digit = current, digit >= 0x30, digit <= 0x39 else { throw endOrUnexpected("a digit") }
      skipDigits()
    }
    return .number(String(decoding: bytes[start..<index], as: UTF8.self))
  }

  private mutating func skipDigits() {
    while let byte = current, byte >= 0x30, byte <= 0x39 { index += 1 }
  }

  private mutating func parseString() throws(Failure) -> String {
    index += 1
    // A run of printable ASCII up to the closing quote (most strings) is decoded at once; appending it
    // scalar by scalar cost about 250 instructions a byte.
    let start = index
    while let byte = current, byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\""),
      byte != UInt8(ascii: "\\")
    {
      index += 1
    }
    let run = String(decoding: bytes[start..<index], as: UTF8.self)
    if current == UInt8(ascii: "\"") {
      index += 1
      return run
    }
    var scalars = run.unicodeScalars
    while true {
      guard let byte = current else {
        throw failure("unexpected end of input inside a string", truncated: true)
      }
      switch byte {
      case UInt8(ascii: "\""):
        index += 1
        return String(scalars)
      case UInt8(ascii: "\\"):
        index += 1
        scalars.append(try parseEscape())
      case 0..<0x20:
        throw failure("control character 0x\(String(byte, radix: 16)) in a string; escape it")
      case 0..<0x80:
        scalars.append(Unicode.Scalar(byte))
        index += 1
      default:
        scalars.append(try parseUTF8())
      }
    }
  }

  private mutating func parseEscape() throws(Failure) -> Unicode.Scalar {
    guard let byte = current else {
      throw failure("unexpected end of input inside a string", truncated: true)
    }
    index += 1
    switch byte {
    case UInt8(ascii: "\""): return "\""
    case UInt8(ascii: "\\"): return "\\"
    case UInt8(ascii: "/"): return "/"
    case UInt8(ascii: "b"): return "\u{08}"
    case UInt8(ascii: "f"): return "\u{0C}"
    case UInt8(ascii: "n"): return "\n"
    case UInt8(ascii: "r"): return "\r"
    case UInt8(ascii: "t"): return "\t"
    case UInt8(ascii: "u"):
      let high = try hex4()
      if high == 0 {
        // No request value means anything with a NUL in it, and C APIs below would cut it short there.
        index -= 6
        throw failure("NUL character (\\u0000) in a string; requests cannot contain it")
      }
      if (0xD800..<0xDC00).contains(high) {
        // Cut short anywhere in the pair (after the high half, after its `\\`) is cut short, not unpaired.
        let endsHere = current == nil || (current == UInt8(ascii: "\\") && index + 1 == bytes.count)
        guard !endsHere else { throw failure("unexpected end of input inside a string", truncated: true) }
        guard current == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
          throw failure("unpaired surrogate \\u\(String(high, radix: 16))")
        }
        index += 2
        let low = try hex4()
        guard (0xDC00..<0xE000).contains(low) else { throw failure("invalid surrogate pair") }
        return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
      }
      guard let scalar = Unicode.Scalar(high) else {
        throw failure("unpaired surrogate \\u\(String(high, radix: 16))")
      }
      return scalar
    default:
      index -= 1
      throw failure("invalid escape '\\\(Character(Unicode.Scalar(byte)))'")
    }
  }

  private mutating func hex4() throws(Failure) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let byte = current else {
        throw failure("unexpected end of input inside a string", truncated: true)
      }
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - 0x30
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - 0x57
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - 0x37
      default: throw failure("invalid \\u escape")
      }
      value = value << 4 | UInt32(digit)
      index += 1
    }
    return value
  }

  private mutating func parseUTF8() throws(Failure) -> Unicode.Scalar {
    let lead = bytes[index]
    let (count, initial): (Int, UInt32) =
      switch lead {
      case 0xC2...0xDF: (2, UInt32(lead & 0x1F))
      case 0xE0...0xEF: (3, UInt32(lead & 0x0F))
      case 0xF0...0xF4: (4, UInt32(lead & 0x07))
      default: (0, 0)
      }
    guard count > 0 else { throw failure("invalid UTF-8 (byte 0x\(String(lead, radix: 16)))") }
    if index + count > bytes.count {
      throw failure("unexpected end of input inside a string", truncated: true)
    }
    var value = initial
    for offset in 1..<count {
      let byte = bytes[index + offset]
      guard byte & 0xC0 == 0x80 else { throw failure("invalid UTF-8 (byte 0x\(String(lead, radix: 16)))") }
      value = value << 6 | UInt32(byte & 0x3F)
    }
    let minimum: UInt32 = count == 2 ? 0x80 : count == 3 ? 0x800 : 0x10000
    guard value >= minimum, let scalar = Unicode.Scalar(value) else {
      throw failure("invalid UTF-8 (byte 0x\(String(lead, radix: 16)))")
    }
    index += count
    return scalar
  }
}
