import Foundation
import Testing

@testable import JobdropState
@testable import JobdropSystem

/// A status file is written by hand (``JSONText``); Foundation's `JSONEncoder`, with the options the
/// spool used, is the reference it is held to, byte for byte, and `JSONDecoder` reads it back.
@Suite(.timeLimit(.minutes(10))) struct JobRecordTests {
  @Test func theHandWrittenStatusFileIsWhatJSONEncoderWritesAndReadsBack() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var records = try JobDocumentTests.jobs().map(\.record)
    for index in records.indices where index % 2 == 1 {
      var info = stat()
      info.st_dev = 64_769
      info.st_ino = UInt.max - UInt(index)
      // A name that is not UTF-8, as a partner's client may upload one.
      records[index].inboxClaim = InboxClaim(
        jobID: records[index].id, name: FileName(bytes: [0x78, 0xFF, 0x0A, 0x22, 0x2E, 0x6A]),
        identity: FileIdentity(info), sha256: index % 4 == 1 ? String(repeating: "0f", count: 32) : nil,
        node: index % 3 == 0 ? "node-ü" : nil)
      records[index].retryAt = records[index].createdAt.adding(seconds: 30)
      records[index].requestAliases = ["again.json", "ü \"2\".json"]
      records[index].attempts = index
    }
    #expect(records.count == 29)
    for record in records {
      let reference = String(decoding: try encoder.encode(record), as: UTF8.self)
      #expect(String(decoding: record.json, as: UTF8.self) == reference)
      #expect(try JSONDecoder().decode(JobRecord.self, from: Data(record.json)) == record)
    }
  }
}
