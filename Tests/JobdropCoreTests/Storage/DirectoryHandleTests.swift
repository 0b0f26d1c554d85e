import Foundation
import Testing

@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct DirectoryHandleTests {
  @Test func renameNoReplaceRefusesAnExistingNameAndLeavesBothFiles() throws {
    let directory = TemporaryDirectory()
    let handle = try DirectoryHandle(path: directory.path)
    directory.write("new", to: "a.tmp")
    directory.write("old", to: "a.json")
    #expect(
      throws: FileSystemError(
        operation: "rename", path: "\(directory.path)/a.tmp -> \(directory.path)/a.json", errno: EEXIST)
    ) {
      try handle.renameNoReplace(FileName("a.tmp"), to: handle, as: FileName("a.json"))
    }
    #expect(directory.read("a.json") == "old")
    #expect(directory.read("a.tmp") == "new")
    try handle.renameNoReplace(FileName("a.tmp"), to: handle, as: FileName("b.json"))
    #expect(directory.list("") == ["a.json", "b.json"])
  }

  /// A file replaced with its freeing left to ``BackgroundCloser`` (`index.json`) reads new at once, and
  /// once the closer is idle no replaced file is held open: none of 200 quick replaces leaks its space.
  /// A FIFO or a symlink where the file was is replaced without waiting or following it.
  @Test func aReplacedFileFreedInTheBackgroundIsNotHeldOnceTheCloserIsIdle() throws {
    let directory = TemporaryDirectory()
    let handle = try DirectoryHandle(path: directory.path)
    func heldDeleted() throws -> [String] {
      try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { fd in
        let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
        return target.flatMap { $0.hasPrefix(directory.path) && $0.hasSuffix("(deleted)") ? $0 : nil }
      }
    }
    for round in 0..<200 {
      try AtomicWriter.write(
        parts: [Array("round \(round)".utf8)[...]], to: FileName("index.json"), in: handle,
        syncDirectory: false, syncFile: false, freeReplacedInBackground: true)
      #expect(directory.read("index.json") == "round \(round)")
    }
    BackgroundCloser.shared.waitUntilIdle()
    #expect(try heldDeleted() == [])
    #expect(directory.list("") == ["index.json"])

    #expect(mkfifo(directory.file("pipe.json"), 0o644) == 0)
    #expect(symlink(directory.file("index.json"), directory.file("link.json")) == 0)
    for name in ["pipe.json", "link.json"] {
      try AtomicWriter.write(
        Array("file".utf8), to: FileName(name), in: handle, syncDirectory: false, syncFile: false,
        freeReplacedInBackground: true)
      #expect(directory.read(name) == "file")
    }
    #expect(directory.read("index.json") == "round 199", "the symlink's target is left alone")
    BackgroundCloser.shared.waitUntilIdle()
    #expect(try heldDeleted() == [])
  }

  /// An expired job's folder is gone at once; its large file, freed by the closer, is not held once the
  /// closer is idle, and a small one is removed as it is.
  @Test func aTreeRemovedWithItsLargeFilesFreedInTheBackgroundIsGoneAndNotHeld() throws {
    let directory = TemporaryDirectory()
    let handle = try DirectoryHandle(path: directory.path)
    try FileManager.default.createDirectory(
      atPath: directory.file("job/part"), withIntermediateDirectories: true)
    try Data(count: BackgroundCloser.largeFile * 2).write(
      to: URL(fileURLWithPath: directory.file("job/export.csv")))
    directory.write("{}", to: "job/file.json")
    directory.write("x", to: "job/part/small.csv")
    try handle.removeTree(FileName("job"), freeingLargeFilesInBackground: true)
    #expect(directory.list("") == [])
    BackgroundCloser.shared.waitUntilIdle()
    let held = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { fd in
      try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
    }.filter { $0.hasPrefix(directory.path + "/") }
    #expect(held == [])
  }

  @Test func atomicWritesLeaveNoTempFileAndUnchangedFilesAreNotRewritten() throws {
    let directory = TemporaryDirectory()
    let handle = try DirectoryHandle(path: directory.path)
    try AtomicWriter.write(Array("one".utf8), to: FileName("doc.json"), in: handle, mode: 0o640)
    #expect(directory.list("") == ["doc.json"])
    #expect(directory.read("doc.json") == "one")
    let mode = try FileManager.default.attributesOfItem(atPath: directory.file("doc.json"))[.posixPermissions]
    #expect(mode as? Int == 0o640)
    let before = try #require(try handle.status(of: FileName("doc.json"))).st_ino
    try AtomicWriter.writeIfChanged(Array("one".utf8), to: FileName("doc.json"), in: handle)
    #expect(try handle.status(of: FileName("doc.json"))?.st_ino == before, "same bytes: left alone")
    try AtomicWriter.writeIfChanged(Array("two".utf8), to: FileName("doc.json"), in: handle)
    #expect(try handle.status(of: FileName("doc.json"))?.st_ino != before, "new bytes: replaced by a rename")
    #expect(directory.read("doc.json") == "two")
    #expect(directory.list("") == ["doc.json"])
  }

  @Test func anAtomicWriteIntoAMissingFolderFailsNamingItAndLeavesNothing() throws {
    let directory = TemporaryDirectory()
    let handle = try DirectoryHandle(path: directory.path)
    try FileManager.default.createDirectory(
      atPath: directory.file("doc.json"), withIntermediateDirectories: false)
    directory.write("x", to: "doc.json/inside")
    // Replacing a non-empty directory by a file fails at the rename; the temp file is removed.
    #expect(throws: FileSystemError.self) {
      try AtomicWriter.write(Array("one".utf8), to: FileName("doc.json"), in: handle)
    }
    #expect(directory.list("") == ["doc.json"])
  }

  @Test func pinnedFilesKeepTheirIdentityAcrossARename() throws {
    let directory = TemporaryDirectory()
    let handle = try DirectoryHandle(path: directory.path)
    directory.write("x", to: "a.json")
    let pin = try PinnedFile(adopting: try handle.openPath(FileName("a.json")), path: "a.json")
    try handle.rename(FileName("a.json"), to: handle, as: FileName("b.json"))
    #expect(try handle.status(of: FileName("b.json")).map(FileIdentity.init) == pin.identity)
    directory.write("y", to: "a.json")
    #expect(try handle.status(of: FileName("a.json")).map(FileIdentity.init) != pin.identity)
  }

  @Test func transientErrorsAreTheOnesWorthRetrying() {
    for code in [ENOSPC, EDQUOT, EIO, EMFILE] {
      #expect(FileSystemError(operation: "write", path: "x", errno: code).isTransient)
    }
    for code in [ENOENT, EACCES, EISDIR, EEXIST] {
      #expect(!FileSystemError(operation: "write", path: "x", errno: code).isTransient)
    }
  }

  @Test func faultPlansParse() {
    let faults = FaultInjection.parse("write:ENOSPC:3,fsync:EIO:10+,bad,open:EWHAT:1,read:EIO:0")
    #expect(faults.count == 2)
    #expect(
      faults[0].call == "write" && faults[0].errno == ENOSPC && faults[0].first == 3 && !faults[0].persistent)
    #expect(
      faults[1].call == "fsync" && faults[1].errno == EIO && faults[1].first == 10 && faults[1].persistent)
  }
}
