import Foundation
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct InboxTests {
  @Test(arguments: [
    ("a.json", InboxEntryKind.request), (".a.json", .inFlight), ("a.json.part", .inFlight),
    ("a.json.filepart", .inFlight), ("a.json.tmp", .inFlight), ("a.json.partial", .inFlight),
    ("a.json~", .inFlight),
    ("a.txt", .other), ("a.JSON", .other), ("json", .other),
  ])
  func classifiesNames(name: String, kind: InboxEntryKind) {
    #expect(InboxEntryKind(FileName(name)) == kind)
  }

  @Test func neverOpensThroughSpecialFiles() throws {
    let directory = TemporaryDirectory()
    let inbox = try Inbox(path: directory.file("inbox"))
    directory.write("{}", to: "secret.json")
    try FileManager.default.createSymbolicLink(
      atPath: directory.file("inbox/link.json"), withDestinationPath: directory.file("secret.json"))
    #expect(mkfifo(directory.file("inbox/fifo.json"), 0o644) == 0)
    try FileManager.default.createDirectory(
      atPath: directory.file("inbox/dir.json"), withIntermediateDirectories: false)
    for (name, kind) in [("link.json", "symbolic link"), ("fifo.json", "FIFO"), ("dir.json", "directory")] {
      guard case .refused(let found) = try inbox.read(FileName(name)) else {
        Issue.record("\(name) was not refused")
        continue
      }
      #expect(found == kind)
    }
    guard case .gone = try inbox.read(FileName("missing.json")) else {
      Issue.record("a missing file was not reported as gone")
      return
    }
  }

  @Test func readsAtMostOneByteOverTheLimit() throws {
    let directory = TemporaryDirectory()
    let inbox = try Inbox(path: directory.file("inbox"))
    directory.write(String(repeating: "x", count: 3 << 20), to: "inbox/big.json")
    guard case .file(let bytes, _, _) = try inbox.read(FileName("big.json")) else {
      Issue.record("not read")
      return
    }
    #expect(bytes.count == RequestParser.maximumSize + 1)
  }

  @Test func listsNamesThatAreNotUTF8() throws {
    let directory = TemporaryDirectory()
    let inbox = try Inbox(path: directory.file("inbox"))
    let name = FileName(bytes: [0x66, 0xFF, 0x2E, 0x6A, 0x73, 0x6F, 0x6E])
    try inbox.directory.openFile(name, flags: O_WRONLY | O_CREAT).close(path: name.display)
    #expect(try inbox.requestNames() == [name])
    #expect(name.utf8String == nil)
    #expect(name.display == "f\u{FFFD}.json")
  }

  /// A name is shown as it is, but a control character in it as an escape, whatever else it holds.
  @Test func showsControlCharactersInANameEscaped() {
    #expect(FileName("plain é.json").display == "plain é.json")
    #expect(
      FileName(bytes: [0x61, 0x0A, 0x62, 0x7F, 0xFF, 0x1B]).display == "a\\u{a}b\\u{7f}\u{FFFD}\\u{1b}")
  }
}
