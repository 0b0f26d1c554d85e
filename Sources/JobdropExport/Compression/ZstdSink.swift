import CZstd
import JobdropSystem

/// Compresses what it is given into one Zstandard frame (with its checksum), streaming, on libzstd's own
/// worker threads: memory is libzstd's window and jobs per worker, whatever the export's size.
public final class ZstdSink: ByteSink {
  /// libzstd's level (3 is its default; `zstd` uses it too).
  public static let level: Int32 = 1
  private let next: any ByteSink
  private let context: OpaquePointer
  private let output: UnsafeMutableRawPointer
  private let outputSize = ZSTD_CStreamOutSize()
  private var ended = false

  /// `workers`: libzstd's compression threads (0 compresses on the caller's thread).
  public init(next: any ByteSink, workers: Int = BlockCompressor.defaultWorkers) {
    self.next = next
    guard let context = ZSTD_createCCtx() else {
      preconditionFailure("ZSTD_createCCtx failed (out of memory)")
    }
    self.context = context
    output = .allocate(byteCount: outputSize, alignment: 64)
    _ = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, ZstdSink.level)
    _ = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
    // A libzstd built without threads refuses this and compresses on the caller's thread.
    if workers > 1 { _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(workers)) }
  }

  deinit {
    ZSTD_freeCCtx(context)
    output.deallocate()
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    guard !bytes.isEmpty else { return }
    var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
    while input.pos < input.size {
      try pump(&input, ZSTD_e_continue)
    }
  }

  public func finish() throws(FileSystemError) {
    guard !ended else { return }
    ended = true
    var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    while try pump(&input, ZSTD_e_end) != 0 {}
    try next.finish()
  }

  /// One call of `ZSTD_compressStream2`, writing on what it produced; returns what it says is left to
  /// flush.
  @discardableResult
  private func pump(_ input: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws(FileSystemError)
    -> Int
  {
    var out = ZSTD_outBuffer(dst: output, size: outputSize, pos: 0)
    let left = ZSTD_compressStream2(context, &out, &input, directive)
    precondition(ZSTD_isError(left) == 0, "zstd: \(String(cString: ZSTD_getErrorName(left)))")
    if out.pos > 0 { try next.write(UnsafeRawBufferPointer(start: output, count: out.pos)) }
    return left
  }
}
