import Testing

@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct TrimmingTests {
  @Test(arguments: [
    ("", ""), (" ", ""), ("   ", ""), ("a", "a"), (" a", "a"), ("a ", "a"), ("  a b  ", "a b"),
    ("ab", "ab"), (" e\u{301} ", "e\u{301}"), ("  ü  x  ", "ü  x"),
  ])
  func trimsSpacesAtBothEndsOnly(text: String, expected: String) {
    #expect(text.trimming { $0 == " " } == expected)
    #expect(text.dropFirst(0).trimming { $0 == " " } == expected)
  }

  @Test func trimsWhatThePredicateMatches() {
    #expect("\"etag\"".trimming { $0 == "\"" } == "etag")
    #expect("/a/b/".trimming { $0 == "/" } == "a/b")
    #expect(" \t key = value\n".trimming(while: \.isWhitespace) == "key = value")
  }
}
