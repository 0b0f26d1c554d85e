import CZstd
import JobdropSystem

/// Writes a Parquet file's bytes into a sink: each page Zstandard-compressed behind its header, counting
/// where the file is (the metadata holds every page's offset).
struct ParquetPageWriter {
  /// libzstd's level for pages (pyarrow's default for Zstandard).
  static let level: Int32 = 1
  private let sink: any ByteSink
  private let context: ZstdContext
  /// Bytes written so far: the offset the next page starts at.
  private(set) var offset: Int64 = 0
  /// The size of what was written, pages counted before compression (a column chunk's
  /// `total_uncompressed_size` is the difference over its pages).
  private(set) var uncompressedTotal: Int64 = 0

  init(sink: any ByteSink) {
    self.sink = sink
    context = ZstdContext()
  }

  /// Writes bytes as they are (the magic, the footer).
  mutating func write(raw bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { buffer in
      try sink.write(buffer)
    }
    offset += Int64(bytes.count)
    uncompressedTotal += Int64(bytes.count)
  }

  mutating func write(dictionaryOf count: Int, _ values: [UInt8]) throws {
    try page(dictionary: true, valueCount: count, encoding: .plain, values)
  }

  mutating func write(dataPageOf count: Int, encoding: Parquet.Encoding, _ values: [UInt8])
    throws
  {
    try page(dictionary: false, valueCount: count, encoding: encoding, values)
  }

  private mutating func page(dictionary: Bool, valueCount: Int, encoding: Parquet.Encoding, _ data: [UInt8])
    throws
  {
    let compressed = context.compress(data, level: ParquetPageWriter.level)
    let header = Parquet.pageHeader(
      dictionary: dictionary, valueCount: valueCount, encoding: encoding, uncompressedSize: data.count,
      compressedSize: compressed.count)
    try header.withUnsafeBytes { buffer in
      try sink.write(buffer)
    }
    try sink.write(compressed)
    offset += Int64(header.count + compressed.count)
    uncompressedTotal += Int64(header.count + data.count)
  }
}

/// A libzstd compression context and its output buffer, reused for every page.
final class ZstdContext {
  private let context: OpaquePointer
  private var output: UnsafeMutableRawPointer?
  private var capacity = 0

  init() {
    guard let context = ZSTD_createCCtx() else {
      preconditionFailure("ZSTD_createCCtx failed (out of memory)")
    }
    self.context = context
  }

  deinit {
    ZSTD_freeCCtx(context)
    output?.deallocate()
  }

  /// Compresses `input` into one frame, valid until the next call.
  func compress(_ input: [UInt8], level: Int32) -> UnsafeRawBufferPointer {
    let bound = ZSTD_compressBound(input.count)
    if capacity < bound {
      output?.deallocate()
      capacity = max(bound, capacity * 2)
      output = .allocate(byteCount: capacity, alignment: 64)
    }
    let produced = input.withUnsafeBytes { source in
      ZSTD_compressCCtx(context, output, capacity, source.baseAddress, source.count, level)
    }
    precondition(ZSTD_isError(produced) == 0, "zstd: \(String(cString: ZSTD_getErrorName(produced)))")
    return UnsafeRawBufferPointer(start: output, count: produced)
  }
}
