import Glibc
import Testing

@testable import JobdropSystem

/// A group of files made durable together: nothing is under its name before the commit, everything is
/// after it, and a discarded group leaves nothing.
@Suite(.timeLimit(.minutes(10))) struct GroupWriteTests {
  @Test(arguments: [1, 2, 5])
  func aCommitPutsEveryFileInPlaceWithItsBytesAndMode(files: Int) throws {
    let directory = TemporaryDirectory()
    let a = try DirectoryHandle(path: directory.file("a"), create: true)
    let b = try DirectoryHandle(path: directory.file("b"), create: true)
    var group = GroupWrite()
    #expect(group.isEmpty)
    for index in 0..<files {
      try group.add(
        Array("file \(index)".utf8), as: FileName("\(index).json"), in: index % 2 == 0 ? a : b, mode: 0o600)
    }
    #expect(!group.isEmpty)
    // Before the commit only temp names exist: nothing is under a final name.
    let before = directory.list("a") + directory.list("b")
    #expect(
      before.count == files && before.allSatisfy { $0.hasPrefix(AtomicWriter.temporaryPrefix) }, "\(before)")
    try group.commit()
    let after = (directory.list("a") + directory.list("b")).sorted()
    #expect(after == (0..<files).map { "\($0).json" }.sorted())
    for index in 0..<files {
      let folder = index % 2 == 0 ? "a" : "b"
      #expect(directory.read("\(folder)/\(index).json") == "file \(index)")
      var info = stat()
      let found = stat(directory.file("\(folder)/\(index).json"), &info) == 0
      #expect(found && info.st_mode & 0o777 == 0o600)
    }
  }

  @Test func aDiscardedGroupLeavesNothing() throws {
    let directory = TemporaryDirectory()
    let folder = try DirectoryHandle(path: directory.file("a"), create: true)
    var group = GroupWrite()
    try group.add(Array("x".utf8), as: FileName("x.json"), in: folder, mode: 0o644)
    try group.add(Array("y".utf8), as: FileName("y.json"), in: folder, mode: 0o644)
    group.discard()
    #expect(directory.list("a").isEmpty)
  }

  @Test func aCommitReplacesAFileOfTheSameName() throws {
    let directory = TemporaryDirectory()
    let folder = try DirectoryHandle(path: directory.file("a"), create: true)
    directory.write("old", to: "a/x.json")
    var group = GroupWrite()
    try group.add(Array("new".utf8), as: FileName("x.json"), in: folder, mode: 0o644)
    try group.commit()
    #expect(directory.read("a/x.json") == "new")
    #expect(directory.list("a") == ["x.json"])
  }
}
