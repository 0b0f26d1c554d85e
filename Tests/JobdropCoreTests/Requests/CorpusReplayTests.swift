import Foundation
import Testing

@testable import JobdropModel

/// Replays the fuzzing seed corpus (`Tests/Corpus`, also what `make fuzz` starts from) through the
/// parsers: `ok-*` inputs are accepted, `bad-*` inputs are refused with a message, and none crashes.
@Suite(.timeLimit(.minutes(10))) struct CorpusReplayTests {
  static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Corpus")

  static func files(_ folder: String) -> [String] {
    let path = corpus.appendingPathComponent(folder).path
    return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map {
      path + "/" + $0
    }
  }

  @Test(arguments: files("requests"))
  func replaysRequest(path: String) throws {
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    let name = URL(fileURLWithPath: path).lastPathComponent
    do {
      _ = try RequestParser(catalog: .builtIn).parse(bytes)
      #expect(name.hasPrefix("ok-"), "\(name) was accepted")
    } catch {
      #expect(name.hasPrefix("bad-"), "\(name): \(error.message)")
      #expect(!error.message.isEmpty)
    }
  }

  @Test(arguments: files("filters"))
  func replaysFilter(path: String) throws {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let name = URL(fileURLWithPath: path).lastPathComponent
    do {
      _ = try FilterCompiler(jobType: .orderExport).compile(text)
      #expect(name.hasPrefix("ok-"), "\(name) was accepted")
    } catch {
      #expect(name.hasPrefix("bad-"), "\(name): \(error)")
      #expect(error.description.hasPrefix("filter: "))
    }
  }

  @Test func theCorpusIsThere() {
    #expect(CorpusReplayTests.files("requests").count >= 10)
    #expect(CorpusReplayTests.files("filters").count >= 5)
  }
}
