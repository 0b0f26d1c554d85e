import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// Replaces many files durably together (a group commit): every new content is written to a temp file,
/// made durable, every temp file is renamed into place, and the renames are made durable.
///
/// How it is made durable depends on the group's size and on what else waits to be written. A group
/// flushes the file systems (`syncfs`, one journal commit however many files), renames, and flushes
/// again: where ``AtomicWriter`` pays two `fsync`s per file, a burst pays two `syncfs`. But `syncfs`
/// writes everything that waits on the file system, so a small group (at most ``targetedLimit`` files: a
/// lone job's claim or outcome) syncs exactly its own files instead (`fdatasync` each, after starting
/// the writeback of all, then the folders involved) when the page cache holds at least
/// ``ownFilesFrom`` bytes not yet on disk: a large `index.json` or an upload in progress then never
/// rides along with a job's commit. (With little waiting, the few more sync calls cost more than the
/// flush: about a millisecond a job here.)
///
/// Either way every new content is durable before any name points at it, so a crash at any point leaves
/// each file either as it was or whole with its new content, never empty or partial; after
/// ``commit(alsoFlushing:)`` returns, every rename is durable. Files already renamed into place by other
/// means before the commit (an export file published without its own fsync, ``UnsyncedFile``) are made
/// durable before the group's renames.
public struct GroupWrite {
  /// The most files (staged and unsynced) a group syncs one by one rather than by flushing file systems.
  public static let targetedLimit = 2

  /// The bytes waiting to be written (`Dirty` + `Writeback`) from which a small group syncs its own files:
  /// 8 MiB. Below it `syncfs` costs little more than the extra sync calls own files need, and it keeps
  /// the outbox's own unsynced documents (~30 KB a job) from piling up: at 1 MiB they kept a small site
  /// syncing its own files once anything had pushed the dirt past the threshold, and its `index.json`
  /// then lagged its documents by 2–16 ms (p50 over 60 drops), its renames waiting in the journal behind
  /// the many more commits. A site whose `index.json` is larger (about 14,000 jobs) still syncs its own
  /// files. Debug builds take `JOBDROP_OWN_FILES_SYNC_FROM` (bytes) instead, so tests can force either
  /// way.
  public static let ownFilesFrom: Int = {
    #if DEBUG
      if let text = getenv("JOBDROP_OWN_FILES_SYNC_FROM"), let bytes = Int(String(cString: text)) {
        return bytes
      }
    #endif
    return 8 << 20
  }()

  /// Whether `files` files are synced one by one (see ``ownFilesFrom``).
  private static func syncsOwnFiles(_ files: Int) -> Bool {
    files <= targetedLimit && (PageCache.unwrittenBytes() ?? .max) >= ownFilesFrom
  }

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
      if Umask.narrows(mode) { _ = fchmod(descriptor.raw, mode) }
      try descriptor.close(path: path)
    } catch {
      try? directory.remove(temporary)
      throw error
    }
    staged.append((directory, temporary, name))
  }

  /// Makes every staged content and `unsynced` durable, renames every temp file into place, and makes the
  /// renames durable. On a failure the temp files not yet renamed are removed and the error thrown; the
  /// files renamed so far hold their new content whole.
  public func commit(alsoFlushing unsynced: [UnsyncedFile] = []) throws {
    let targeted = GroupWrite.syncsOwnFiles(staged.count + unsynced.count)
    let fileSystems =
      targeted ? [] : GroupWrite.fileSystems(of: staged.map(\.directory) + unsynced.map(\.folder))
    var renamed = 0
    do {
      CrashPoint.reached("group-written")
      if targeted {
        try GroupWrite.syncEach(
          staged.map { ($0.directory, $0.temporary) } + unsynced.map { ($0.folder, $0.name) },
          folders: unsynced.flatMap(\.folders))
      } else {
        for folder in fileSystems { try GroupWrite.syncFileSystem(folder) }
      }
      CrashPoint.reached("group-flushed")
      for item in staged {
        try item.directory.rename(item.temporary, to: item.directory, as: item.name)
        renamed += 1
        if renamed == 1 { CrashPoint.reached("group-renaming") }
      }
      if targeted {
        for folder in GroupWrite.distinct(staged.map(\.directory)) { try folder.sync() }
      } else {
        for folder in fileSystems { try GroupWrite.syncFileSystem(folder) }
      }
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

  /// Makes `files` durable: one by one with their folders (when they are few and much else waits, see
  /// ``ownFilesFrom``), else by flushing their file systems.
  public static func flush(_ files: [UnsyncedFile]) throws {
    guard !syncsOwnFiles(files.count) else {
      return try syncEach(files.map { ($0.folder, $0.name) }, folders: files.flatMap(\.folders))
    }
    for folder in fileSystems(of: files.map(\.folder)) { try syncFileSystem(folder) }
  }

  /// `syncfs(2)` on the file system holding `folder`.
  public static func syncFileSystem(_ folder: DirectoryHandle) throws(FileSystemError) {
    try syscall("syncfs", folder.path) { jobdrop_syncfs(folder.descriptor) }
  }

  /// Makes the content of each file durable, then the entries of `folders`: starts the writeback of all
  /// the files, then `fdatasync`s each (the first one's journal commit carries the others' new inodes, so a
  /// few files cost about one commit), then fsyncs each folder once.
  private static func syncEach(
    _ files: [(folder: DirectoryHandle, name: FileName)], folders: [DirectoryHandle]
  )
    throws
  {
    for file in files {
      let descriptor = try file.folder.openFile(file.name, flags: O_RDONLY | O_NOFOLLOW)
      DirectoryHandle.startWriteback(descriptor.raw, offset: 0, length: 0)
      try descriptor.close(path: file.folder.display(file.name))
    }
    for file in files {
      let path = file.folder.display(file.name)
      let descriptor = try file.folder.openFile(file.name, flags: O_RDONLY | O_NOFOLLOW)
      try syscall("fsync", path) { fdatasync(descriptor.raw) }
      try descriptor.close(path: path)
    }
    for folder in distinct(folders) { try folder.sync() }
  }

  /// One folder of each file system among `folders`.
  private static func fileSystems(of folders: [DirectoryHandle]) -> [DirectoryHandle] {
    var devices = Set<UInt64>()
    return folders.filter { folder in
      var info = stat()
      return fstat(folder.descriptor, &info) != 0 || devices.insert(UInt64(info.st_dev)).inserted
    }
  }

  /// `folders` without repeats (by path).
  private static func distinct(_ folders: [DirectoryHandle]) -> [DirectoryHandle] {
    var seen = Set<String>()
    return folders.filter { seen.insert($0.path).inserted }
  }
}
