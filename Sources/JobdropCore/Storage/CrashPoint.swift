#if canImport(Glibc)
  import Glibc
#endif

/// Named points in a job's life where a debug build kills itself (SIGKILL) when `JOBDROP_CRASH_AT`
/// names the point: the crash-matrix tests use it to prove that a crash at any step loses and repeats
/// nothing. Release builds compile it to nothing.
enum CrashPoint {
  #if DEBUG
    private static let target: String? = getenv("JOBDROP_CRASH_AT").map { String(cString: $0) }
  #endif

  /// Kills the process here if this is the named crash point (debug builds only).
  @inline(__always)
  static func reached(_ name: StaticString) {
    #if DEBUG
      if let target, target == name.description {
        kill(getpid(), SIGKILL)
      }
    #endif
  }
}
