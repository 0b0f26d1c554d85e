import Foundation
import Testing

@testable import JobdropExport
@testable import JobdropSystem

/// The gzip and Zstandard sinks, read back by the `gzip` and `zstd` programs and Python: several
/// megabytes (many blocks on several threads, in order), one small block, and nothing at all.
@Suite(.timeLimit(.minutes(5))) struct CompressionTests {
  /// Compresses `input` written in pieces of `piece` bytes through the sink `make` builds; returns the file.
  func compress(
    _ input: [UInt8], piece: Int, in directory: TemporaryDirectory, _ make: (ExportFile) -> any ByteSink
  ) throws -> String {
    let file = try ExportFile(directory: try DirectoryHandle(path: directory.path), name: FileName("out"))
    let sink = make(file)
    var offset = 0
    while offset < input.count {
      let end = min(input.count, offset + piece)
      try input[offset..<end].withUnsafeBytes { try sink.write($0) }
      offset = end
    }
    try sink.finish()
    _ = try file.publish()
    return directory.path + "/out"
  }

  /// Text like an export's: rows of numbers and words from a fixed generator.
  static func sample(bytes: Int) -> [UInt8] {
    var state: UInt64 = 42
    var text: [UInt8] = []
    text.reserveCapacity(bytes + 100)
    let words = ["paid", "refunded", "Zoë", "order", "GB", "ES", "€", "2024-02-29T23:59:59Z"]
    while text.count < bytes {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      text += Array("\(state >> 40),\(words[Int(state >> 61)]),\(state % 977)\r\n".utf8)
    }
    return Array(text.prefix(bytes))
  }

  /// `program -dc` of the file, and Python's reading of it.
  func decompressed(_ path: String, program: String) throws -> (Data, Data) {
    let reader =
      program == "gzip"
      ? "import gzip, sys; sys.stdout.buffer.write(gzip.decompress(open(sys.argv[1], 'rb').read()))"
      : "import zstandard, sys; sys.stdout.buffer.write("
        + "zstandard.ZstdDecompressor().stream_reader(open(sys.argv[1], 'rb')).read())"
    return (
      try CompressionTests.run([program, "-dc", path]),
      try CompressionTests.run(["python3", "-c", reader, path])
    )
  }

  /// The standard output of a program that must succeed.
  static func run(_ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(arguments[0]) exited \(process.terminationStatus)")
    return data
  }

  @Test(arguments: [
    ("gzip", 5_300_000, 65_536), ("gzip", 1000, 7), ("gzip", 0, 1), ("zstd", 5_300_000, 65_536),
    ("zstd", 1000, 7), ("zstd", 0, 1),
  ])
  func whatIsWrittenReadsBackWhole(codec: String, size: Int, piece: Int) throws {
    let input = CompressionTests.sample(bytes: size)
    let directory = TemporaryDirectory()
    defer { withExtendedLifetime(directory) {} }
    let path = try compress(input, piece: piece, in: directory) { (file: ExportFile) -> any ByteSink in
      if codec == "gzip" { return GzipSink(next: file, workers: 3) }
      return ZstdSink(next: file, workers: 2)
    }
    let (cli, python) = try decompressed(path, program: codec)
    let original = Data(input)
    // Compared as one answer: a diff of megabytes would take the test runner minutes.
    let cliMatches = cli == original
    let pythonMatches = python == original
    #expect(cliMatches, "\(codec) -dc: \(cli.count) bytes, wrote \(input.count)")
    #expect(pythonMatches, "python: \(python.count) bytes, wrote \(input.count)")
    let compressed = try Data(contentsOf: URL(fileURLWithPath: path))
    if size > 1_000_000 { #expect(compressed.count < input.count / 2) }
    if codec == "gzip" {
      // Members of a megabyte each: a gzip header at each block's start.
      let bytes = [UInt8](compressed)
      var members = 0
      for at in 0..<(bytes.count - 2) where bytes[at] == 0x1F && bytes[at + 1] == 0x8B && bytes[at + 2] == 8 {
        members += 1
      }
      #expect(members >= max(1, size / BlockCompressor.blockSize))
    }
  }
}
