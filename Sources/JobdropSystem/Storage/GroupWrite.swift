import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// Replaces many files durably together (a group commit): every new content is written to a temp file,
/// the file systems are flushed (`syncfs`, one journal commit however many files), every temp file is
/// renamed into place, and the file systems are flushed again. Where ``AtomicWriter`` pays two `fsync`s
/// per file, a group of any size pays two `syncfs`.
///
/// The first flush makes every new content durable before any name points at it, so a crash at any
/// point leaves each file either as it was or whole with its new content, never empty or partial; after
/// ``commit(fileSystems:)`` returns, every rename is durable. Files already renamed into place by other
/// means before the commit (an export file published without its own fsync) are made durable by the
/// same first flush.
public struct GroupWrite {
  private var staged: [(directory: DirectoryHandle, temporary: FileName, name: FileName)] = []

  public init() {}

  public var isEmpty: Bool { staged.isEmpty }

  /// Writes `bytes` into a temp file beside `name` in `directory` (no fsync); renamed by the commit.
  public mutating func add(_ bytes: [UInt8], as name: FileName, in directory: DirectoryHandle, mode: mode_t)
    throws
  {
    let temporary = AtomicWriter.temporaryName(for: name)
    let descriptor = try directory.openFile(
      temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: mode)
    do {
      let path = directory.display(temporary)
      try AtomicWriter.writeAll(bytes, to: descriptor.raw, path: path)
      _ = fchmod(descriptor.raw, mode)
      try descriptor.close(path: path)
    } catch {
      try? directory.remove(temporary)
      throw error
    }
    staged.append((directory, temporary, name))
  }

  /// Flushes `fileSystems` (each a folder on a file system to flush; one flush per device), renames
  /// every temp file into place, and flushes again. On a failure the temp files not yet renamed are
  /// removed and the error thrown; the files renamed so far hold their new content whole.
  public func commit(fileSystems: [DirectoryHandle]) throws {
    var devices = Set<UInt64>()
    let flushed = fileSystems.filter { folder in
      var info = stat()
      return fstat(folder.descriptor, &info) != 0 || devices.insert(UInt64(info.st_dev)).inserted
    }
    var renamed = 0
    do {
      CrashPoint.reached("group-written")
      for folder in flushed { try GroupWrite.syncFileSystem(folder) }
      CrashPoint.reached("group-flushed")
      for item in staged {
        try item.directory.rename(item.temporary, to: item.directory, as: item.name)
        renamed += 1
        if renamed == 1 { CrashPoint.reached("group-renaming") }
      }
      for folder in flushed { try GroupWrite.syncFileSystem(folder) }
      CrashPoint.reached("group-committed")
    } catch {
      for item in staged.dropFirst(renamed) { try? item.directory.remove(item.temporary) }
      throw error
    }
  }

  /// Removes the temp files of a group that will not be committed.
  public func discard() {
    for item in staged { try? item.directory.remove(item.temporary) }
  }

  /// `syncfs(2)` on the file system holding `folder`.
  public static func syncFileSystem(_ folder: DirectoryHandle) throws(FileSystemError) {
    try syscall("syncfs", folder.path) { jobdrop_syncfs(folder.descriptor) }
  }
}
