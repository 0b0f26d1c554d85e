#if canImport(Glibc)
  import Glibc
#endif

/// The kernel's page cache, as `/proc/meminfo` tells it.
public enum PageCache {
  /// Bytes written but not yet on disk (`Dirty` and `Writeback`, the whole system), or `nil` if
  /// `/proc/meminfo` cannot be read.
  public static func unwrittenBytes() -> Int? {
    let descriptor = open("/proc/meminfo", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
    guard count > 0 else { return nil }
    var total: Int?
    for line in buffer[..<count].split(separator: 0x0A) {
      guard line.starts(with: dirty) || line.starts(with: writeback) else { continue }
      // "Dirty:     268 kB"
      let digits = line.drop { $0 < 0x30 || $0 > 0x39 }.prefix { $0 >= 0x30 && $0 <= 0x39 }
      guard let kilobytes = Int(String(decoding: digits, as: UTF8.self)) else { return nil }
      total = (total ?? 0) + kilobytes * 1024
    }
    return total
  }

  private static let dirty = Array("Dirty:".utf8)
  private static let writeback = Array("Writeback:".utf8)
}
