import CDeflate
import JobdropSystem

/// Compresses what it is given into one gzip file, streaming: blocks of a megabyte compressed by
/// libdeflate on several threads (``BlockCompressor``), each a gzip member, concatenated in order.
/// A file of several members is one valid gzip file (RFC 1952 §2.2): `gzip -d`, Python's `gzip`,
/// zlib's `gunzip` and browsers read it whole.
///
/// libdeflate compresses a whole buffer at a time, faster than zlib's stream at the same ratio; a
/// member per megabyte costs a few bytes of header and the first 32 KiB of context per member (under
/// 0.1 % of the size; see docs/performance.md).
public final class GzipSink: ByteSink {
  /// libdeflate's level: 1 (fastest) to 12; 6 is zlib's and gzip's default.
  public static let level: Int32 = 1
  private let blocks: BlockCompressor

  public init(next: any ByteSink, workers: Int = BlockCompressor.defaultWorkers) {
    blocks = BlockCompressor(next: next, workers: workers) { DeflateCodec(level: GzipSink.level) }
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    try blocks.write(bytes)
  }

  public func finish() throws(FileSystemError) {
    try blocks.finish()
  }
}

/// One libdeflate compressor, writing gzip members.
final class DeflateCodec: BlockCodec {
  private let compressor: OpaquePointer

  init(level: Int32) {
    guard let compressor = libdeflate_alloc_compressor(level) else {
      preconditionFailure("libdeflate_alloc_compressor failed (out of memory)")
    }
    self.compressor = compressor
  }

  deinit { libdeflate_free_compressor(compressor) }

  func bound(_ count: Int) -> Int { libdeflate_gzip_compress_bound(compressor, count) }

  func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
    let produced = libdeflate_gzip_compress(
      compressor, input.baseAddress, input.count, output.baseAddress, output.count)
    precondition(produced > 0, "libdeflate: the output bound was too small")
    return produced
  }
}
