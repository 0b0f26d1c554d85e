import CLinux

/// The process's heap.
public enum Heap {
  /// Gives the heap's free memory back to the system (`malloc_trim`): after a phase that allocated and
  /// freed a lot at once (reading a whole spool at start), so the resident size shows what is kept.
  public static func trim() {
    _ = jobdrop_malloc_trim()
  }
}
