#if canImport(Glibc)
  import Glibc
#endif

/// A time zone's offsets from UTC, read from the system's tz database (Debian's `tzdata`:
/// `/usr/share/zoneinfo/<name>`, TZif files): the table of transitions, then the POSIX TZ rule at the
/// file's end for times after the table.
///
/// Read by hand (the format is small and fixed, RFC 8536): glibc's `localtime_r` reads one zone for the
/// whole process (`TZ`), and schedules in many zones run side by side.
public struct TimeZoneRules: Sendable, Equatable {
  /// The IANA name, e.g. `Europe/Berlin`.
  public let name: String
  /// Transition instants (seconds since the epoch, ascending) and the offset (seconds east of UTC) from each.
  let transitions: [Int64]
  let offsets: [Int32]
  /// The offset before the first transition.
  let initialOffset: Int32
  /// The rule for times after the last transition, when the file has one.
  let rule: PosixRule?

  /// UTC itself.
  public static let utc = TimeZoneRules(
    name: "UTC", transitions: [], offsets: [], initialOffset: 0, rule: nil)

  /// Where the zone files are (`TZDIR` when set, as glibc reads it).
  static var directory: String {
    getenv("TZDIR").map { String(cString: $0) } ?? "/usr/share/zoneinfo"
  }

  /// Reads the zone named `name`; `nil` when it is not a zone of the system's database.
  public init?(named name: String) {
    if name == "UTC" || name == "Etc/UTC" {
      self = TimeZoneRules.utc
      return
    }
    // A name is letters, digits and `_+-` in parts separated by `/`: no way out of the database's folder.
    let parts = name.split(separator: "/", omittingEmptySubsequences: false)
    guard !name.isEmpty, name.utf8.count <= 64,
      parts.allSatisfy({ part in
        !part.isEmpty && part.first != "." && part.utf8.allSatisfy { TimeZoneRules.allowed($0) }
      })
    else { return nil }
    let file = try? FileReader.read(path: TimeZoneRules.directory + "/" + name, limit: 1 << 20)
    guard let bytes = file, let parsed = TimeZoneRules.parse(bytes, name: name) else { return nil }
    self = parsed
  }

  init(name: String, transitions: [Int64], offsets: [Int32], initialOffset: Int32, rule: PosixRule?) {
    self.name = name
    self.transitions = transitions
    self.offsets = offsets
    self.initialOffset = initialOffset
    self.rule = rule
  }

  private static func allowed(_ byte: UInt8) -> Bool {
    (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
      || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
  }

  /// The offset from UTC, in seconds east, at the instant `seconds` (since the epoch).
  public func offset(at seconds: Int64) -> Int32 {
    if let last = transitions.last, seconds >= last, let rule { return rule.offset(at: seconds) }
    if transitions.isEmpty { return rule?.offset(at: seconds) ?? initialOffset }
    var low = 0
    var high = transitions.count
    while low < high {
      let middle = (low + high) / 2
      if transitions[middle] <= seconds { low = middle + 1 } else { high = middle }
    }
    return low == 0 ? initialOffset : offsets[low - 1]
  }

  /// The instants whose local time is `local` (seconds since the epoch read as a local clock): one; two
  /// when the clock is set back and shows it twice (earliest first); none in a gap the clock skips.
  public func instants(atLocal local: Int64) -> [Int64] {
    var found: [Int64] = []
    for offset in Set(probes(around: local).map { $0.offset }).sorted(by: >) {
      let instant = local - Int64(offset)
      if self.offset(at: instant) == offset { found.append(instant) }
    }
    return found.sorted()
  }

  /// The first instant after a gap that skips the local time `local`: where the clock, set forward, starts
  /// again (`nil` when `local` is not in a gap).
  public func endOfGap(atLocal local: Int64) -> Int64? {
    let samples = probes(around: local)
    for (before, after) in zip(samples, samples.dropFirst()) where before.offset != after.offset {
      // The change lies in (before, after]: found to the second.
      var low = before.instant
      var high = after.instant
      while high - low > 1 {
        let middle = (low + high) / 2
        if offset(at: middle) == before.offset { low = middle } else { high = middle }
      }
      let gapStart = high + Int64(before.offset)
      let gapEnd = high + Int64(after.offset)
      if gapStart <= local && local < gapEnd { return high }
    }
    return nil
  }

  /// The offsets in force every half hour from 15 hours before to 15 hours after `local` read as UTC:
  /// every instant whose local time is `local` lies in that span.
  private func probes(around local: Int64) -> [(instant: Int64, offset: Int32)] {
    stride(from: local - 54_000, through: local + 54_000, by: 1_800).map { ($0, offset(at: $0)) }
  }
}

extension TimeZoneRules {
  /// Reads a TZif file (version 1, or the 64-bit data of versions 2 and later, and its footer rule).
  static func parse(_ bytes: [UInt8], name: String) -> TimeZoneRules? {
    var reader = ByteReader(bytes: bytes)
    guard let header = reader.header() else { return nil }
    var counts = header.counts
    var timeSize = 4
    if header.version >= 2 {
      // Skip the 32-bit data to the second header.
      guard reader.skip(counts.dataSize(timeSize: 4)), let second = reader.header() else { return nil }
      counts = second.counts
      timeSize = 8
    }
    var transitions: [Int64] = []
    for _ in 0..<counts.time {
      guard let time = reader.integer(size: timeSize) else { return nil }
      transitions.append(time)
    }
    var indices: [Int] = []
    for _ in 0..<counts.time {
      guard let index = reader.byte() else { return nil }
      indices.append(Int(index))
    }
    var types: [Int32] = []
    for _ in 0..<counts.type {
      guard let offset = reader.integer(size: 4), reader.skip(2) else { return nil }
      types.append(Int32(truncatingIfNeeded: offset))
    }
    guard !types.isEmpty, indices.allSatisfy({ $0 < types.count }) else { return nil }
    guard reader.skip(counts.char + counts.leap * (timeSize + 4) + counts.isStd + counts.isUT) else {
      return nil
    }
    var rule: PosixRule?
    if header.version >= 2, let footer = reader.footer(), !footer.isEmpty {
      rule = PosixRule(footer)
    }
    return TimeZoneRules(
      name: name, transitions: transitions, offsets: indices.map { types[$0] }, initialOffset: types[0],
      rule: rule)
  }
}

/// Reading a TZif file's big-endian fields in order.
private struct ByteReader {
  let bytes: [UInt8]
  var position = 0

  struct Counts {
    var isUT = 0, isStd = 0, leap = 0, time = 0, type = 0, char = 0
    func dataSize(timeSize: Int) -> Int {
      time * timeSize + time + type * 6 + char + leap * (timeSize + 4) + isStd + isUT
    }
  }

  mutating func header() -> (version: Int, counts: Counts)? {
    guard position + 44 <= bytes.count, bytes[position..<position + 4].elementsEqual("TZif".utf8) else {
      return nil
    }
    let versionByte = bytes[position + 4]
    let version = versionByte == 0 ? 1 : Int(versionByte) - 0x30
    position += 20
    var values: [Int] = []
    for _ in 0..<6 {
      guard let value = integer(size: 4), value >= 0, value < 1 << 20 else { return nil }
      values.append(Int(value))
    }
    return (
      version,
      Counts(
        isUT: values[0], isStd: values[1], leap: values[2], time: values[3], type: values[4], char: values[5])
    )
  }

  mutating func integer(size: Int) -> Int64? {
    guard position + size <= bytes.count else { return nil }
    var value: Int64 = 0
    for byte in bytes[position..<position + size] { value = value << 8 | Int64(byte) }
    position += size
    // Sign-extend a 32-bit field.
    if size == 4 { value = Int64(Int32(truncatingIfNeeded: value)) }
    return value
  }

  mutating func byte() -> UInt8? {
    guard position < bytes.count else { return nil }
    defer { position += 1 }
    return bytes[position]
  }

  mutating func skip(_ count: Int) -> Bool {
    guard count >= 0, position + count <= bytes.count else { return false }
    position += count
    return true
  }

  /// The footer: the POSIX TZ string between two newlines.
  mutating func footer() -> String? {
    guard byte() == 0x0A, let end = bytes[position...].firstIndex(of: 0x0A) else { return nil }
    return String(decoding: bytes[position..<end], as: UTF8.self)
  }
}
