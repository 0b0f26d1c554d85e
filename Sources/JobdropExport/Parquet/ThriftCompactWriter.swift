/// Encodes Thrift structs in the compact protocol, as Parquet's metadata and page headers are written
/// (Apache Thrift, "Thrift Compact protocol encoding"): fields by their id's delta from the previous
/// field of the struct, integers as zigzag varints, a struct ended by a stop byte.
struct ThriftCompactWriter {
  /// The compact protocol's type codes.
  enum FieldType: UInt8 {
    case booleanTrue = 1
    case booleanFalse = 2
    case byte = 3
    case i16 = 4
    case i32 = 5
    case i64 = 6
    case double = 7
    case binary = 8
    case list = 9
    case set = 10
    case map = 11
    case `struct` = 12
  }

  private(set) var bytes: [UInt8] = []
  /// The id of the last field written in each open struct, innermost last.
  private var lastFieldIDs: [Int16] = [0]

  init() { bytes.reserveCapacity(256) }

  // MARK: Fields

  mutating func field(_ id: Int16, i32 value: Int32) {
    fieldHeader(id, .i32)
    varint(zigzag(Int64(value)))
  }

  mutating func field(_ id: Int16, i64 value: Int64) {
    fieldHeader(id, .i64)
    varint(zigzag(value))
  }

  mutating func field(_ id: Int16, i8 value: Int8) {
    fieldHeader(id, .byte)
    bytes.append(UInt8(bitPattern: value))
  }

  mutating func field(_ id: Int16, bool value: Bool) {
    fieldHeader(id, value ? .booleanTrue : .booleanFalse)
  }

  mutating func field(_ id: Int16, binary value: some Collection<UInt8>) {
    fieldHeader(id, .binary)
    varint(UInt64(value.count))
    bytes.append(contentsOf: value)
  }

  mutating func field(_ id: Int16, string value: String) {
    field(id, binary: Array(value.utf8))
  }

  /// A struct field: `body` writes its fields.
  mutating func field(_ id: Int16, struct body: (inout ThriftCompactWriter) -> Void) {
    fieldHeader(id, .struct)
    structBody(body)
  }

  /// A list of i32 (Parquet's enums).
  mutating func field(_ id: Int16, i32List values: [Int32]) {
    fieldHeader(id, .list)
    listHeader(values.count, .i32)
    for value in values { varint(zigzag(Int64(value))) }
  }

  mutating func field(_ id: Int16, stringList values: [String]) {
    fieldHeader(id, .list)
    listHeader(values.count, .binary)
    for value in values {
      varint(UInt64(value.utf8.count))
      bytes.append(contentsOf: value.utf8)
    }
  }

  /// A list of structs, each written by `element`.
  mutating func field<T>(
    _ id: Int16, structList values: [T], _ element: (inout ThriftCompactWriter, T) -> Void
  ) {
    fieldHeader(id, .list)
    listHeader(values.count, .struct)
    for value in values { structBody { element(&$0, value) } }
  }

  /// The fields of a struct and its stop byte (a top-level struct, or a struct element).
  mutating func structBody(_ body: (inout ThriftCompactWriter) -> Void) {
    lastFieldIDs.append(0)
    body(&self)
    bytes.append(0)
    lastFieldIDs.removeLast()
  }

  // MARK: Encoding

  private mutating func fieldHeader(_ id: Int16, _ type: FieldType) {
    let delta = Int(id) - Int(lastFieldIDs[lastFieldIDs.count - 1])
    if delta > 0 && delta <= 15 {
      bytes.append(UInt8(delta) << 4 | type.rawValue)
    } else {
      bytes.append(type.rawValue)
      varint(zigzag(Int64(id)))
    }
    lastFieldIDs[lastFieldIDs.count - 1] = id
  }

  private mutating func listHeader(_ count: Int, _ type: FieldType) {
    if count < 15 {
      bytes.append(UInt8(count) << 4 | type.rawValue)
    } else {
      bytes.append(0xF0 | type.rawValue)
      varint(UInt64(count))
    }
  }

  private func zigzag(_ value: Int64) -> UInt64 {
    UInt64(bitPattern: (value << 1) ^ (value >> 63))
  }

  mutating func varint(_ value: UInt64) {
    var value = value
    while value >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
      value >>= 7
    }
    bytes.append(UInt8(value))
  }
}
