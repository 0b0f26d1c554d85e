import JobdropSystem

/// Where the CSV writer's bytes go.
public protocol ByteSink: AnyObject {
  /// Takes `bytes` (copying what it keeps).
  func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError)
  /// Ends the stream; no writes follow.
  func finish() throws(FileSystemError)
}

extension ExportFile {
  public func finish() throws(FileSystemError) {}
}
