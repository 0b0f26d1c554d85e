import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Debug builds fail chosen system calls on purpose, so tests can prove that each fault fails only what it
/// touches (the seam swift-system's mocking gives its syscalls). Release builds compile it to nothing.
///
/// `JOBDROP_FAULTS` lists faults separated by commas, each `CALL:ERRNO:N` (the Nth call of `CALL` fails
/// with `ERRNO`, once) or `CALL:ERRNO:N+` (every call from the Nth on fails). `CALL` is the name
/// ``syscall(_:_:_:)`` reports (`open`, `read`, `write`, `fsync`, `rename`, `fstat`); `ERRNO` is one of
/// `EIO`, `ENOSPC`, `EDQUOT`, `EINTR`, `EMFILE`, `EACCES`, `EROFS`. Example: `write:ENOSPC:3,fsync:EIO:10`.
enum FaultInjection {
  struct Fault: Sendable {
    var call: String
    var errno: Int32
    var first: Int
    var persistent: Bool
  }

  #if DEBUG
    static let faults: [Fault] = parse(getenv("JOBDROP_FAULTS").map { String(cString: $0) } ?? "")
    private static let counts = Mutex<[String: Int]>([:])
  #endif

  /// The `errno` this call of `call` must fail with, if a fault says so (debug builds only).
  @inline(__always)
  static func injected(_ call: String) -> Int32? {
    #if DEBUG
      if faults.isEmpty { return nil }
      let count = counts.withLock { counts in
        counts[call, default: 0] += 1
        return counts[call]!
      }
      for fault in faults where fault.call == call {
        if count == fault.first || (fault.persistent && count > fault.first) { return fault.errno }
      }
    #endif
    return nil
  }

  static func parse(_ text: String) -> [Fault] {
    let names: [String: Int32] = [
      "EIO": EIO, "ENOSPC": ENOSPC, "EDQUOT": EDQUOT, "EINTR": EINTR, "EMFILE": EMFILE, "EACCES": EACCES,
      "EROFS": EROFS,
    ]
    return text.split(separator: ",").compactMap { item in
      let parts = item.split(separator: ":").map(String.init)
      guard parts.count == 3, let code = names[parts[1]] else { return nil }
      let persistent = parts[2].hasSuffix("+")
      guard let first = Int(persistent ? String(parts[2].dropLast()) : parts[2]), first > 0 else {
        return nil
      }
      return Fault(call: parts[0], errno: code, first: first, persistent: persistent)
    }
  }
}
