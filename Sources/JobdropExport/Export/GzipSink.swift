import CZlib
import JobdropSystem

/// Compresses what it is given into gzip format (zlib, level 6) and passes it on, streaming: memory use
/// is zlib's window and one output buffer, whatever the export's size.
public final class GzipSink: ByteSink {
  private let next: any ByteSink
  private var stream = z_stream()
  private let output: UnsafeMutablePointer<UInt8>
  private static let outputSize = 1 << 18
  private var ended = false

  public init(next: any ByteSink) {
    self.next = next
    output = .allocate(capacity: GzipSink.outputSize)
    // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
    let result = deflateInit2_(
      &stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)
    )
    precondition(result == Z_OK, "deflateInit2 failed: \(result)")
  }

  deinit {
    deflateEnd(&stream)
    output.deallocate()
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
    stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
    stream.avail_in = UInt32(bytes.count)
    try pump(flush: Z_NO_FLUSH)
  }

  public func finish() throws(FileSystemError) {
    guard !ended else { return }
    ended = true
    stream.next_in = nil
    stream.avail_in = 0
    try pump(flush: Z_FINISH)
    try next.finish()
  }

  private func pump(flush: Int32) throws(FileSystemError) {
    repeat {
      stream.next_out = output
      stream.avail_out = UInt32(GzipSink.outputSize)
      let result = deflate(&stream, flush)
      precondition(result != Z_STREAM_ERROR, "deflate stream error")
      let produced = GzipSink.outputSize - Int(stream.avail_out)
      if produced > 0 { try next.write(UnsafeRawBufferPointer(start: output, count: produced)) }
      if flush == Z_FINISH && result == Z_STREAM_END { return }
    } while stream.avail_out == 0 || (flush == Z_FINISH)
  }
}
