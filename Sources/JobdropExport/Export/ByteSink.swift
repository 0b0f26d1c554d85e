import JobdropSystem

/// Where the CSV writer's bytes go.
public protocol ByteSink: AnyObject {
  /// Takes `bytes` (copying what it keeps).
  func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError)
  /// Takes `bytes` without copying them where the sink can: they stay valid and unchanged until the sink
  /// calls `returned` (once, on any thread, also when the write fails). By default a copy, and `returned`
  /// at once.
  func write(lending bytes: UnsafeRawBufferPointer, returned: @escaping @Sendable () -> Void)
    throws(FileSystemError)
  /// Ends the stream; no writes follow.
  func finish() throws(FileSystemError)
}

/// A sink that lends room in its own memory, so a writer formats straight into it instead of into a
/// buffer of its own that is then copied (a slice of a parallel export, ``ChunkBuffer``).
protocol InPlaceSink: ByteSink {
  /// Room for at least `minimum` bytes after what the sink holds, valid until the next call on the sink.
  func room(atLeast minimum: Int) -> UnsafeMutableRawBufferPointer
  /// Keeps the first `count` bytes written into the last room.
  func commit(_ count: Int)
}

extension InPlaceSink {
  /// Keeps the first `kept` bytes written into the last room and lends new room for at least `minimum`
  /// bytes, as the writers' buffer: its start and size.
  func nextRoom(keeping kept: Int, atLeast minimum: Int) -> (UnsafeMutablePointer<UInt8>, Int) {
    commit(kept)
    let room = room(atLeast: minimum)
    return (room.baseAddress!.bindMemory(to: UInt8.self, capacity: room.count), room.count)
  }
}

extension ByteSink {
  public func write(lending bytes: UnsafeRawBufferPointer, returned: @escaping @Sendable () -> Void)
    throws(FileSystemError)
  {
    defer { returned() }
    try write(bytes)
  }
}

extension ByteSink {
  /// Lends `bytes` (see ``write(lending:returned:)``) once `flush` has written what a writer buffered
  /// before them; `returned` is called also when `flush` fails.
  func write(
    lending bytes: UnsafeRawBufferPointer, after flush: () throws(FileSystemError) -> Void,
    returned: @escaping @Sendable () -> Void
  ) throws(FileSystemError) {
    do {
      try flush()
    } catch {
      returned()
      throw error
    }
    try write(lending: bytes, returned: returned)
  }
}
