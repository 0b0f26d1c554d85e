#if canImport(Glibc)
  import Glibc
#endif

/// The process's file mode creation mask, read once from `/proc/self/status` (reading it with `umask(2)`
/// would change it for a moment under the other threads' file creations).
///
/// A file or folder is created with the mode it must have and changed with `chmod` afterwards only when
/// the mask clears some of that mode's bits: a job creates about a dozen files and folders, and under
/// the usual mask (022) none of them needs the extra call.
package enum Umask {
  /// The mask, or `nil` where `/proc` does not say it.
  package static let current: mode_t? = {
    guard let bytes = try? FileReader.read(path: "/proc/self/status", limit: 16_384) else { return nil }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Umask:") {
      return mode_t(line.dropFirst(6).trimming(while: \.isWhitespace), radix: 8)
    }
    return nil
  }()

  /// Whether something created with `mode` needs a `chmod` to have exactly `mode`.
  package static func narrows(_ mode: mode_t) -> Bool {
    guard let current else { return true }
    return current & mode != 0
  }
}
