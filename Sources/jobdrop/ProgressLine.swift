import JobdropState
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The one live line `jobdrop submit --wait` keeps redrawn on a terminal: state, rows so far, rows per
/// second and time elapsed. Off a terminal it writes nothing (no escape codes in a script's output).
final class ProgressLine {
  let terminal: Bool
  private let start = ConditionLock.monotonicMilliseconds()
  private var startedAt: Int64?
  private var drawn = false

  init(terminal: Bool) { self.terminal = terminal }

  /// Redraws the line for `job`.
  func show(_ job: Job) {
    guard terminal else { return }
    let now = ConditionLock.monotonicMilliseconds()
    if job.state == .started && startedAt == nil { startedAt = now }
    let rows = job.record.rows ?? 0
    let running = max(1, now - (startedAt ?? now))
    let rate = startedAt == nil ? "" : "  \(rows * 1000 / Int(running)) rows/s"
    let elapsed = Double(now - start) / 1000
    let text =
      "\(job.state.rawValue)  \(rows) rows\(rate)  \(String(Int(elapsed))).\(Int(elapsed * 10) % 10) s"
    // Carriage return and erase-line: the same line, redrawn.
    write("\r\u{1B}[K" + text)
    drawn = true
  }

  /// Ends the live line, so what follows starts on a line of its own.
  func end() {
    if drawn { write("\n") }
  }

  private func write(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
  }
}
