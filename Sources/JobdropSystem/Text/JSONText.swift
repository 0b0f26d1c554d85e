/// JSON written by hand, byte for byte as Foundation's `JSONEncoder` writes it with `.sortedKeys` and
/// `.withoutEscapingSlashes`: no spaces; a string escapes `"`, `\` and the control characters (`\b`,
/// `\t`, `\n`, `\f`, `\r`, the others as `\u00xx`) and keeps every other character as it is; an
/// object's keys come in the order of their UTF-8 bytes, and a field whose value is `nil` is left out.
///
/// For documents written on a job's path (a generic encode of the outbox's job document took about
/// 0.2 ms; this a few microseconds). The caller writes an object's keys in order; debug builds check it.
package struct JSONText {
  package private(set) var bytes: [UInt8] = []
  /// For each open object, whether it has a field yet, and (debug builds) its last key.
  private var open: [(hasField: Bool, lastKey: String)] = []

  package init() { bytes.reserveCapacity(1_024) }

  /// Opens an object (as a value: after ``key(_:)``, or at the top).
  package mutating func beginObject() {
    bytes.append(0x7B)
    open.append((false, ""))
  }

  package mutating func endObject() {
    bytes.append(0x7D)
    open.removeLast()
  }

  /// Writes the key of the next field of the innermost open object.
  package mutating func key(_ key: String) {
    let last = open.count - 1
    if open[last].hasField {
      assert(
        open[last].lastKey.utf8.lexicographicallyPrecedes(key.utf8),
        "JSON keys out of order: \(open[last].lastKey), \(key)")
      bytes.append(0x2C)
    }
    open[last].hasField = true
    #if DEBUG
      open[last].lastKey = key
    #endif
    string(key)
    bytes.append(0x3A)
  }

  package mutating func string(_ text: String) {
    bytes.append(0x22)
    // Most text needs no escape: appended at once, from the string's own storage.
    let appended = text.utf8.withContiguousStorageIfAvailable { utf8 in
      guard !utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else { return false }
      bytes.append(contentsOf: utf8)
      return true
    }
    if appended == true {
      bytes.append(0x22)
      return
    }
    for byte in text.utf8 {
      switch byte {
      case 0x22, 0x5C: bytes += [0x5C, byte]
      case 0x08: bytes += [0x5C, 0x62]
      case 0x09: bytes += [0x5C, 0x74]
      case 0x0A: bytes += [0x5C, 0x6E]
      case 0x0C: bytes += [0x5C, 0x66]
      case 0x0D: bytes += [0x5C, 0x72]
      case 0..<0x20:
        bytes += [
          0x5C, 0x75, 0x30, 0x30, JSONText.hexDigits[Int(byte >> 4)], JSONText.hexDigits[Int(byte & 0xF)],
        ]
      default: bytes.append(byte)
      }
    }
    bytes.append(0x22)
  }

  package mutating func integer(_ value: some BinaryInteger) { bytes += Array(String(value).utf8) }

  package mutating func bool(_ value: Bool) { bytes += Array((value ? "true" : "false").utf8) }

  /// A field with a text value, left out when `value` is `nil`.
  package mutating func field(_ key: String, _ value: String?) {
    guard let value else { return }
    self.key(key)
    string(value)
  }

  /// A field with a number, left out when `value` is `nil`.
  package mutating func field(_ key: String, _ value: Int?) {
    guard let value else { return }
    self.key(key)
    integer(value)
  }

  /// A field with a number.
  package mutating func field(_ key: String, _ value: UInt64) {
    self.key(key)
    integer(value)
  }

  /// A field with an array of numbers.
  package mutating func field(_ key: String, _ values: [UInt8]) {
    self.key(key)
    array(values) { $0.integer($1) }
  }

  /// A field with `true` or `false`, left out when `value` is `nil`.
  package mutating func field(_ key: String, _ value: Bool?) {
    guard let value else { return }
    self.key(key)
    bool(value)
  }

  /// A field with an array of texts, left out when `values` is `nil`.
  package mutating func field(_ key: String, _ values: [String]?) {
    guard let values else { return }
    self.key(key)
    array(values) { $0.string($1) }
  }

  /// A field with an object of texts (keys in order, as the encoder sorts them), left out when `values`
  /// is `nil`.
  package mutating func field(_ key: String, _ values: [String: String]?) {
    guard let values else { return }
    object(key) { json in
      for (name, value) in values.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
        json.field(name, value)
      }
    }
  }

  /// A field whose value is `json`, a JSON text already checked (a partner's request, as it was dropped).
  package mutating func field(_ key: String, json: [UInt8]) {
    self.key(key)
    bytes += json
  }

  /// A field whose value is the object `body` writes.
  package mutating func object(_ key: String, _ body: (inout JSONText) -> Void) {
    self.key(key)
    beginObject()
    body(&self)
    endObject()
  }

  /// A field whose value is an array of objects, each written by `body` into its open object.
  package mutating func field<Element>(
    _ key: String, objects values: [Element], _ body: (inout JSONText, Element) -> Void
  ) {
    self.key(key)
    array(values) { json, value in
      json.beginObject()
      body(&json, value)
      json.endObject()
    }
  }

  private mutating func array<Element>(_ values: [Element], _ write: (inout JSONText, Element) -> Void) {
    bytes.append(0x5B)
    for (index, value) in values.enumerated() {
      if index > 0 { bytes.append(0x2C) }
      write(&self, value)
    }
    bytes.append(0x5D)
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)
}
