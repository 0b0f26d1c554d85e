#if canImport(Glibc)
  import Glibc
#endif

/// Faults a debug build can be asked for, so tests see what a stuck part looks like from outside.
package enum TestHook {
  /// In a debug build with `JOBDROP_STALL=<name>`, the loop named `name` stops here (without returning)
  /// until `stopped` says so: it does no work and reports nothing, as a stuck loop would. Release builds
  /// read no variable.
  package static func stallIfAsked(_ name: StaticString, until stopped: () -> Bool) {
    #if DEBUG
      guard stall == name.description else { return }
      while !stopped() { usleep(50_000) }
    #endif
  }

  #if DEBUG
    private static let stall: String? = getenv("JOBDROP_STALL").map { String(cString: $0) }
  #endif
}
