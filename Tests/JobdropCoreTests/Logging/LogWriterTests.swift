import Foundation
import Testing

@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct LogWriterTests {
  /// A pipe whose read end is non-blocking, so the test can drain it without waiting.
  struct Pipe {
    let read: Int32
    let write: Int32
    init() {
      var ends: [Int32] = [0, 0]
      precondition(pipe(&ends) == 0)
      read = ends[0]
      write = ends[1]
      _ = fcntl(read, F_SETFL, fcntl(read, F_GETFL) | O_NONBLOCK)
    }

    /// How many bytes wait in the pipe (FIONREAD), without reading them.
    var waiting: Int {
      var count: Int32 = 0
      return ioctl(read, UInt(FIONREAD), &count) == 0 ? Int(count) : 0
    }

    /// Everything in the pipe now.
    func drain() -> String {
      var bytes: [UInt8] = []
      var chunk = [UInt8](repeating: 0, count: 65_536)
      while true {
        let count = Glibc.read(read, &chunk, chunk.count)
        if count <= 0 { break }
        bytes += chunk.prefix(count)
      }
      return String(decoding: bytes, as: UTF8.self)
    }
  }

  @Test(.timeLimit(.minutes(10))) func aReaderThatStopsReadingNeverBlocksTheCallerAndLearnsWhatWasLost() {
    let pipe = Pipe()
    defer {
      close(pipe.read)
      close(pipe.write)
    }
    let writer = LogWriter(descriptor: pipe.write, limit: 64 * 1024)
    let line = Array((String(repeating: "x", count: 99) + "\n").utf8)
    // 10 MB into a 64 KiB pipe that nobody reads, plus a 64 KiB queue: the calls return all the same.
    for _ in 0..<100_000 { writer.write(line) }
    #expect(writer.flush(timeoutMilliseconds: 200) == false, "nobody reads: the flush gives up")
    // The writer thread fills the pipe in its own time (a loaded machine may not have run it yet):
    // await the pipe holding 60,000 bytes, giving up after 30 s.
    for _ in 0..<600 where pipe.waiting < 60_000 { _ = writer.flush(timeoutMilliseconds: 50) }
    var text = pipe.drain()
    #expect(text.count > 60_000, "the pipe was filled")
    // The reader is back: the next line says how many were dropped, then the lines follow.
    writer.write(Array("after\n".utf8))
    var rest = ""
    for _ in 0..<200 where !rest.contains("after\n") {
      _ = writer.flush(timeoutMilliseconds: 10)
      rest += pipe.drain()
    }
    text += rest
    let lines = text.split(separator: "\n")
    let notices = lines.filter { $0.contains("log lines were dropped") }
    #expect(!notices.isEmpty, "the reader is told lines were dropped")
    // Each notice counts the lines dropped since the one before.
    let dropped = notices.reduce(0) { $0 + ($1.split(separator: " ").compactMap { Int($0) }.first ?? 0) }
    let written = lines.filter { $0.count == 99 }.count
    #expect(lines.allSatisfy { $0.count == 99 || $0.contains("log lines were dropped") || $0 == "after" })
    #expect(dropped + written == 100_000, "every line was written or counted as dropped")
    #expect(text.hasSuffix("after\n"))
  }

  @Test func flushWritesEverythingQueuedWhenTheReaderReads() {
    let pipe = Pipe()
    defer {
      close(pipe.read)
      close(pipe.write)
    }
    let writer = LogWriter(descriptor: pipe.write)
    for index in 0..<100 { writer.write(Array("line \(index)\n".utf8)) }
    #expect(writer.flush(timeoutMilliseconds: 5_000))
    #expect(pipe.drain() == (0..<100).map { "line \($0)\n" }.joined())
  }
}
