import Foundation
import Testing

@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct DirectAppenderTests {
  /// Bytes whose every offset differs from its neighbours', so a block written twice, dropped or out of
  /// place shows.
  private static func content(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
  }

  private static func open(_ path: String) throws -> Int32 {
    let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    try #require(descriptor >= 0, "open \(path): \(String(cString: strerror(errno)))")
    return descriptor
  }

  /// How many of the file's pages are in the page cache (`mincore` of a shared mapping).
  private static func cachedPages(_ path: String) throws -> Int {
    let descriptor = Glibc.open(path, O_RDONLY)
    try #require(descriptor >= 0)
    defer { close(descriptor) }
    var info = stat()
    try #require(fstat(descriptor, &info) == 0)
    let size = Int(info.st_size)
    let mapping = try #require(mmap(nil, size, PROT_READ, MAP_SHARED, descriptor, 0))
    try #require(mapping != MAP_FAILED)
    defer { munmap(mapping, size) }
    var resident = [UInt8](repeating: 0, count: (size + 4_095) / 4_096)
    try #require(mincore(mapping, size, &resident) == 0)
    return resident.count { $0 & 1 == 1 }
  }

  /// Pieces of every size (a byte, a few, more than a block at once) add up to the exact file, and only
  /// its last page, the tail written through the cache, is in the page cache afterwards: the rest went
  /// past it.
  @Test func piecesOfEverySizeMakeTheExactFileWrittenPastThePageCache() throws {
    let directory = TemporaryDirectory()
    let path = directory.path + "/export.csv"
    let bytes = DirectAppenderTests.content(3 * DirectAppender.blockSize + 12_345)
    let descriptor = try DirectAppenderTests.open(path)
    let appender = DirectAppender(descriptor: descriptor, path: path)
    try #require(appender.writesDirectly, "the test folder's file system takes direct writes")
    var offset = 0
    var sizes = [1, 7, 512, 4_095, 100_000, DirectAppender.blockSize + 3, 65_537].makeIterator()
    try bytes.withUnsafeBytes { all in
      while offset < all.count {
        let count = min(sizes.next() ?? 300_001, all.count - offset)
        try appender.append(UnsafeRawBufferPointer(rebasing: all[offset..<offset + count]))
        offset += count
      }
    }
    #expect(appender.writesDirectly)
    try appender.finish()
    #expect(fsync(descriptor) == 0)
    close(descriptor)
    // Before the file is read back, which brings it into the cache.
    #expect(try DirectAppenderTests.cachedPages(path) <= 1)
    #expect(FileManager.default.contents(atPath: path) == Data(bytes))
  }

  /// A direct write the kernel refuses (here one of half the alignment the file system needs, at the end)
  /// is written through the page cache instead, and so is everything after it: the file is still exact.
  @Test func aRefusedDirectWriteAndTheRestGoThroughTheCache() throws {
    let directory = TemporaryDirectory()
    let path = directory.path + "/export.csv"
    let descriptor = try DirectAppenderTests.open(path)
    defer { close(descriptor) }
    let needed = DirectAppender(descriptor: descriptor, path: path).alignment
    try #require(needed >= 2)
    let appender = DirectAppender(descriptor: descriptor, path: path, alignment: needed / 2)
    let bytes = DirectAppenderTests.content(DirectAppender.blockSize + needed / 2 + 100)
    try bytes.withUnsafeBytes { try appender.append($0) }
    // The first block is aligned either way, and went out directly.
    #expect(appender.writesDirectly)
    try appender.finish()
    #expect(!appender.writesDirectly)
    #expect(FileManager.default.contents(atPath: path) == Data(bytes))
  }
}
