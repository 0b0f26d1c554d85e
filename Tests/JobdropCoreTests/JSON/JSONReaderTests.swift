import Testing

@testable import JobdropModel

@Suite(.timeLimit(.minutes(10))) struct JSONReaderTests {
  @Test func readsEveryKindOfValue() throws {
    let value = try JSONReader.parse(
      Array(#" {"a": [1, -2.5e3, true, false, null], "b": "x\u00e9\ud83d\ude00\n\"", "c": {}} "#.utf8))
    #expect(
      value
        == .object([
          ("a", .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null])),
          ("b", .string("xé😀\n\"")), ("c", .object([])),
        ]))
  }

  @Test(arguments: [
    ("{\"a\": 01}", false), ("{\"a\": .5}", false), ("{\"a\": tru}", false), ("{\"a\" 1}", false),
    ("{\"a\": \"\u{01}\"}", false), ("{\"a\": \"\\x\"}", false), ("{\"a\": \"\\ud800\"}", false),
    ("{} {}", false),
    ("{\"a\": [1, 2", true), ("{\"a\": tr", true), ("{\"a\": \"\\u00", true), ("  ", true),
  ])
  func refusesMalformedInput(text: String, truncated: Bool) {
    do {
      _ = try JSONReader.parse(Array(text.utf8))
      Issue.record("expected \(text) to fail")
    } catch {
      #expect(error.isTruncated == truncated)
    }
  }

  @Test func everyPrefixOfAValidDocumentIsCutShortNeverMalformed() {
    // What Python's json.dumps writes for an emoji, plus every other kind of token.
    let text = #"{"reference": "caf\u00e9 \ud83d\ude00 \"q\" é😀", "n": [-1.5e3, true, false, null]}"#
    let bytes = Array(text.utf8)
    #expect(throws: Never.self) { try JSONReader.parse(bytes) }
    for count in 0..<bytes.count {
      do {
        _ = try JSONReader.parse(Array(bytes[..<count]))
        Issue.record("a prefix of \(count) bytes parsed")
      } catch {
        #expect(error.isTruncated, "prefix of \(count) bytes: \(error.message)")
      }
    }
  }

  @Test func refusesNULInStrings() {
    #expect(
      throws: JSONReader.Failure(
        message: "NUL character (\\u0000) in a string; requests cannot contain it", line: 1, column: 13,
        isTruncated: false)
    ) {
      try JSONReader.parse(Array(#"{"a": "a@b.c\u0000junk"}"#.utf8))
    }
  }

  @Test func limitsNestingDepth() {
    let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
    #expect(throws: JSONReader.Failure.self) { try JSONReader.parse(Array(deep.utf8)) }
    let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
    #expect(throws: Never.self) { try JSONReader.parse(Array(fine.utf8)) }
  }

  @Test func reportsLineAndColumn() {
    #expect(
      throws: JSONReader.Failure(
        message: "unexpected ':', expected ',' or '}'", line: 3, column: 6, isTruncated: false)
    ) {
      try JSONReader.parse(Array("{\n  \"a\":\n  \"b\": }".utf8))
    }
  }
}
