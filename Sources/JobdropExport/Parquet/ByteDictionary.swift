/// The distinct values of a text column chunk, for dictionary encoding: an open-addressing hash table of
/// byte strings, each given the next index as it first appears. Gives up (``insert(_:)`` returns `nil`)
/// past ``limit`` values or ``byteLimit`` bytes: such a column is written PLAIN.
struct ByteDictionary {
  static let limit = 16_384
  static let byteLimit = 1 << 20

  /// The values in index order, end to end; `ends[i]` is where value `i` ends.
  private(set) var bytes: [UInt8] = []
  private(set) var ends: [Int] = []
  /// Slots: index + 1 of the value there, 0 for an empty slot.
  private var slots: [Int32] = Array(repeating: 0, count: 1 << 12)
  private var hashes: [UInt64] = []

  var count: Int { ends.count }

  mutating func removeAll() {
    bytes.removeAll(keepingCapacity: true)
    ends.removeAll(keepingCapacity: true)
    hashes.removeAll(keepingCapacity: true)
    for index in slots.indices { slots[index] = 0 }
  }

  /// The value `index`.
  func value(_ index: Int) -> ArraySlice<UInt8> {
    bytes[(index == 0 ? 0 : ends[index - 1])..<ends[index]]
  }

  /// Calls `body` with the bytes of value `index`.
  func withValue(_ index: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
    let start = index == 0 ? 0 : ends[index - 1]
    bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<ends[index]])) }
  }

  /// The index of `value`, added if new; `nil` when the dictionary is full.
  mutating func insert(_ value: UnsafeRawBufferPointer) -> UInt32? {
    let hash = ByteDictionary.hash(value)
    let mask = slots.count - 1
    var slot = Int(truncatingIfNeeded: hash) & mask
    while slots[slot] != 0 {
      let index = Int(slots[slot]) - 1
      if hashes[index] == hash && equals(index, value) { return UInt32(index) }
      slot = (slot + 1) & mask
    }
    guard ends.count < ByteDictionary.limit, bytes.count + value.count <= ByteDictionary.byteLimit else {
      return nil
    }
    bytes.append(contentsOf: value)
    ends.append(bytes.count)
    hashes.append(hash)
    slots[slot] = Int32(ends.count)
    if ends.count * 2 > slots.count { grow() }
    return UInt32(ends.count - 1)
  }

  private func equals(_ index: Int, _ value: UnsafeRawBufferPointer) -> Bool {
    let start = index == 0 ? 0 : ends[index - 1]
    guard ends[index] - start == value.count else { return false }
    return bytes.withUnsafeBytes { stored in
      value.isEmpty || memcmp(stored.baseAddress! + start, value.baseAddress!, value.count) == 0
    }
  }

  private mutating func grow() {
    slots = Array(repeating: 0, count: slots.count * 2)
    let mask = slots.count - 1
    for (index, hash) in hashes.enumerated() {
      var slot = Int(truncatingIfNeeded: hash) & mask
      while slots[slot] != 0 { slot = (slot + 1) & mask }
      slots[slot] = Int32(index + 1)
    }
  }

  /// FNV-1a over 8-byte words, then mixed (the table's slots take its low bits).
  static func hash(_ value: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(value.count)
    var offset = 0
    while offset + 8 <= value.count {
      hash = (hash ^ value.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x100_0000_01b3
      offset += 8
    }
    while offset < value.count {
      hash = (hash ^ UInt64(value[offset])) &* 0x100_0000_01b3
      offset += 1
    }
    hash ^= hash >> 29
    hash = hash &* 0xbf58_476d_1ce4_e5b9
    return hash ^ (hash >> 32)
  }
}

#if canImport(Glibc)
  import Glibc
#endif
