import CLinux

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// An open directory: the anchor for `openat`, `renameat`, `unlinkat` and directory `fsync`.
///
/// Names are raw bytes, so file names that are not UTF-8 are listed, renamed and removed exactly.
/// The descriptor is closed when the handle is released.
// @unchecked: immutable (nothing to lock); the *at(2) calls on one directory descriptor are safe from any
// thread.
public final class DirectoryHandle: @unchecked Sendable {
  /// The descriptor, opened `O_DIRECTORY | O_CLOEXEC`.
  public let descriptor: Int32
  /// The path it was opened with, for messages.
  public let path: String

  /// Opens `path` as a directory; with `create`, makes it (and missing parents) first with `mode`.
  public init(path: String, create: Bool = false, mode: mode_t = 0o755) throws(FileSystemError) {
    if create { try DirectoryHandle.makeDirectories(path, mode: mode) }
    self.path = path
    self.descriptor = try syscall("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
  }

  private init(descriptor: Int32, path: String) {
    self.descriptor = descriptor
    self.path = path
  }

  deinit { close(descriptor) }

  /// Creates `path` and its missing parents with `mode`; an existing directory is fine. The folder itself
  /// is tried first: its parents are only made (and `mkdir` only called once per level) when missing.
  public static func makeDirectories(_ path: String, mode: mode_t) throws(FileSystemError) {
    if mkdir(path, mode) == 0 {
      if Umask.narrows(mode) { _ = chmod(path, mode) }  // not narrowed by the umask
      return
    }
    if errno == EEXIST { return }
    guard errno == ENOENT else { throw FileSystemError(operation: "mkdir", path: path, errno: errno) }
    var prefix = path.hasPrefix("/") ? "/" : ""
    for part in path.split(separator: "/") {
      prefix += part
      if mkdir(prefix, mode) == 0 {
        if Umask.narrows(mode) { _ = chmod(prefix, mode) }
      } else if errno != EEXIST {
        throw FileSystemError(operation: "mkdir", path: prefix, errno: errno)
      }
      prefix += "/"
    }
  }

  /// The display path of an entry of this directory.
  public func display(_ name: FileName) -> String { path + "/" + name.display }

  /// The names in this directory, without `.` and `..`, in no particular order.
  public func entries() throws(FileSystemError) -> [FileName] {
    let copy = try syscall("dup", path) { dup(descriptor) }
    guard let stream = fdopendir(copy) else {
      let code = errno
      close(copy)
      throw FileSystemError(operation: "fdopendir", path: path, errno: code)
    }
    defer { closedir(stream) }
    rewinddir(stream)
    var names: [FileName] = []
    while let entry = readdir(stream) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
        let bytes = raw.bindMemory(to: UInt8.self)
        let length = bytes.firstIndex(of: 0) ?? bytes.count
        return Array(bytes[..<length])
      }
      if name == [0x2E] || name == [0x2E, 0x2E] { continue }
      names.append(FileName(bytes: name))
    }
    return names
  }

  /// `fstatat` without following a symlink; `nil` when the entry does not exist.
  public func status(of name: FileName) throws(FileSystemError) -> stat? {
    var info = stat()
    let result = name.withCString { fstatat(descriptor, $0, &info, AT_SYMLINK_NOFOLLOW) }
    if result == 0 { return info }
    if errno == ENOENT { return nil }
    throw FileSystemError(operation: "stat", path: display(name), errno: errno)
  }

  /// Opens an entry with `flags` (always adding `O_CLOEXEC`); the caller owns the descriptor.
  public func openFile(_ name: FileName, flags: Int32, mode: mode_t = 0o644) throws(FileSystemError)
    -> FileDescriptor
  {
    FileDescriptor(
      adopting: try syscall("open", display(name)) {
        name.withCString { openat(descriptor, $0, flags | O_CLOEXEC, mode) }
      })
  }

  /// Opens a subdirectory of this one (relative to this one's descriptor: the path is not walked again);
  /// with `create`, makes it (and missing parents) first with `mode`.
  public func subdirectory(_ name: String, create: Bool = false, mode: mode_t = 0o755) throws(FileSystemError)
    -> DirectoryHandle
  {
    let full = path + "/" + name
    guard !name.isEmpty, !name.utf8.contains(UInt8(ascii: "/")) else {
      return try DirectoryHandle(path: full, create: create, mode: mode)
    }
    if create {
      if mkdirat(descriptor, name, mode) == 0 {
        if Umask.narrows(mode) { _ = fchmodat(descriptor, name, mode, 0) }  // not narrowed by the umask
      } else if errno != EEXIST {
        throw FileSystemError(operation: "mkdir", path: full, errno: errno)
      }
    }
    let opened = try syscall("open", full) { openat(descriptor, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    return DirectoryHandle(descriptor: opened, path: full)
  }

  /// `renameat(2)` from this directory into `target` (possibly this one). Not durable until both are synced.
  public func rename(_ name: FileName, to target: DirectoryHandle, as newName: FileName)
    throws(FileSystemError)
  {
    try syscall("rename", "\(display(name)) -> \(target.display(newName))") {
      name.withCString { from in
        newName.withCString { to in renameat(descriptor, from, target.descriptor, to) }
      }
    }
  }

  /// Gives the file `name` a second name, `newName` in `target` (a hard link: the same file, not a copy).
  public func link(_ name: FileName, to target: DirectoryHandle, as newName: FileName) throws(FileSystemError)
  {
    try syscall("link", "\(display(name)) -> \(target.display(newName))") {
      name.withCString { from in
        newName.withCString { to in linkat(descriptor, from, target.descriptor, to, 0) }
      }
    }
  }

  /// `renameat2(RENAME_NOREPLACE)` from this directory into `target`: throws with `EEXIST` instead of
  /// replacing an entry that is there. Not durable until both are synced.
  public func renameNoReplace(_ name: FileName, to target: DirectoryHandle, as newName: FileName)
    throws(FileSystemError)
  {
    try syscall("rename", "\(display(name)) -> \(target.display(newName))") {
      name.withCString { from in
        newName.withCString { to in jobdrop_rename_noreplace(descriptor, from, target.descriptor, to) }
      }
    }
  }

  /// Opens an entry `O_PATH | O_NOFOLLOW`: a descriptor that pins the file without permission to read it.
  public func openPath(_ name: FileName) throws(FileSystemError) -> FileDescriptor {
    try openFile(name, flags: jobdrop_O_PATH | O_NOFOLLOW)
  }

  /// Starts writing `length` bytes of `descriptor` from `offset` back to disk without waiting
  /// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`); advisory, so a failure is ignored.
  public static func startWriteback(_ descriptor: Int32, offset: Int64, length: Int64) {
    _ = jobdrop_start_writeback(descriptor, offset, length)
  }

  /// Removes a file; a missing one is not an error.
  public func remove(_ name: FileName) throws(FileSystemError) {
    let result = name.withCString { unlinkat(descriptor, $0, 0) }
    if result != 0 && errno != ENOENT {
      throw FileSystemError(operation: "unlink", path: display(name), errno: errno)
    }
  }

  /// Removes a subdirectory and everything in it; a missing one is not an error.
  ///
  /// With `freeingLargeFilesInBackground`, a file of ``BackgroundCloser/largeFile`` bytes or more is
  /// opened before it is unlinked and closed by ``BackgroundCloser``, which then frees its blocks: on a
  /// file system mounted with `discard` that takes about 0.25 ms a megabyte (61 ms for a 240 MB export
  /// here), which the caller does not wait for.
  public func removeTree(_ name: FileName, freeingLargeFilesInBackground: Bool = false)
    throws(FileSystemError)
  {
    guard let info = try status(of: name) else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
      let child = try DirectoryHandle(path: display(name))
      for entry in try child.entries() {
        try child.removeTree(entry, freeingLargeFilesInBackground: freeingLargeFilesInBackground)
      }
      let result = name.withCString { unlinkat(descriptor, $0, AT_REMOVEDIR) }
      if result != 0 && errno != ENOENT {
        throw FileSystemError(operation: "rmdir", path: display(name), errno: errno)
      }
    } else {
      let large =
        freeingLargeFilesInBackground && (info.st_mode & S_IFMT) == S_IFREG
        && info.st_size >= BackgroundCloser.largeFile
      let held = large ? try? openFile(name, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK) : nil
      try remove(name)
      if let held { BackgroundCloser.shared.close(held) }
    }
  }

  /// Flushes this directory's entries to disk: after it returns, renames into and out of it are durable.
  public func sync() throws(FileSystemError) {
    try syscall("fsync", path) { fsync(descriptor) }
  }
}
