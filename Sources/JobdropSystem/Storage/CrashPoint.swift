import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Named points in a job's life where a debug build kills itself (SIGKILL) when `JOBDROP_CRASH_AT` names
/// the point: the crash-matrix tests use it to prove that a crash at any step loses and repeats nothing.
/// `NAME#N` kills at the Nth time the point is reached (a move's steps are reached once per move). Release
/// builds compile it to nothing.
package enum CrashPoint {
  #if DEBUG
    private static let target: (name: String, count: Int)? = getenv("JOBDROP_CRASH_AT").map {
      let text = String(cString: $0)
      let parts = text.split(separator: "#", maxSplits: 1)
      return (String(parts.first ?? ""), parts.count == 2 ? Int(parts[1]) ?? 1 : 1)
    }
    private static let reachedCount = Atomic<Int>(0)
  #endif

  /// Kills the process here if this is the named crash point (debug builds only).
  @inline(__always)
  package static func reached(_ name: StaticString) {
    #if DEBUG
      if let target, target.name == name.description,
        reachedCount.add(1, ordering: .relaxed).newValue == target.count
      {
        kill(getpid(), SIGKILL)
      }
    #endif
  }
}
