#if canImport(Glibc)
  import Glibc
#endif

/// Writes log lines to a descriptor (stderr) on a thread of its own, so that a reader that stops reading
/// (a pipe nobody drains, a paused terminal, a stuck collector) never blocks a job, a claim or a shutdown.
///
/// Lines wait in a queue of at most ``limit`` bytes; past it new lines are dropped and counted, and once
/// the reader takes lines again the next line says how many were lost. ``flush(timeoutMilliseconds:)`` at
/// exit writes what waits, giving up after its timeout if nobody reads.
// @unchecked: the queue, its size, the drop count and the thread are only touched under `lock`; a
// ConditionLock, not a Mutex: the writer thread waits on it for lines.
public final class LogWriter: @unchecked Sendable {
  /// The process's writer to stderr, used by both log formats.
  public static let standardError = LogWriter(descriptor: 2)

  let descriptor: Int32
  /// The most bytes waiting to be written.
  public let limit: Int
  /// Whether the dropped-lines notice is written as a JSON object (the `json` log format).
  public var jsonNotice: Bool {
    get { lock.withLock { json } }
    set { lock.withLock { json = newValue } }
  }
  private let lock = ConditionLock()
  private var queue: [[UInt8]] = []
  private var queued = 0
  private var dropped = 0
  private var writing = false
  private var json = false
  private var thread: JoinableThread?

  public init(descriptor: Int32, limit: Int = 4 << 20) {
    self.descriptor = descriptor
    self.limit = limit
  }

  /// Queues `line` (a whole line, with its newline) and returns at once; drops it if the queue is full.
  public func write(_ line: [UInt8]) {
    lock.withLock {
      guard queued + line.count <= limit else {
        dropped += 1
        return
      }
      queue.append(line)
      queued += line.count
      if thread == nil { thread = JoinableThread(name: "jobdrop-log") { [self] in run() } }
    }
    lock.broadcast()
  }

  /// Waits until every queued line is written, at most `timeoutMilliseconds`; `false` if lines still wait.
  @discardableResult
  public func flush(timeoutMilliseconds: Int64) -> Bool {
    let deadline = ConditionLock.monotonicMilliseconds() + timeoutMilliseconds
    return lock.withLock {
      while !queue.isEmpty || writing {
        if ConditionLock.monotonicMilliseconds() >= deadline { return false }
        lock.wait(untilMilliseconds: deadline)
      }
      return true
    }
  }

  private func run() {
    while true {
      var batch: [[UInt8]] = []
      var lost = 0
      var asJSON = false
      lock.withLock {
        while queue.isEmpty && dropped == 0 { lock.wait(untilMilliseconds: nil) }
        batch = queue
        lost = dropped
        asJSON = json
        queue.removeAll(keepingCapacity: true)
        queued = 0
        dropped = 0
        writing = true
      }
      if lost > 0 { batch.insert(LogWriter.notice(dropped: lost, json: asJSON), at: 0) }
      var bytes: [UInt8] = []
      bytes.reserveCapacity(batch.reduce(0) { $0 + $1.count })
      for line in batch { bytes += line }
      writeAll(bytes)
      lock.withLock { writing = false }
      lock.broadcast()
    }
  }

  /// Writes every byte unless the descriptor fails (a reader that went away): the lines are then lost,
  /// not the process (the daemon ignores SIGPIPE, so that is EPIPE here).
  private func writeAll(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let count = bytes.withUnsafeBytes {
        Glibc.write(descriptor, $0.baseAddress! + offset, bytes.count - offset)
      }
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { return }
      offset += count
    }
  }

  /// The line that says how many lines were dropped.
  static func notice(dropped: Int, json: Bool) -> [UInt8] {
    let message = "\(dropped) log lines were dropped: standard error was not being read"
    let line =
      json
      ? "{\"time\":\"\(Timestamp.now().rfc3339)\",\"level\":\"warning\",\"message\":\"\(message)\"}\n"
      : "\(Timestamp.now().rfc3339) warning jobdrop: [JobdropSystem] \(message)\n"
    return Array(line.utf8)
  }
}

/// A `TextOutputStream` over ``LogWriter/standardError``, for swift-log's `StreamLogHandler`.
public struct LogWriterStream: TextOutputStream, Sendable {
  let writer: LogWriter

  public init(writer: LogWriter = .standardError) { self.writer = writer }

  public mutating func write(_ string: String) { writer.write(Array(string.utf8)) }
}
