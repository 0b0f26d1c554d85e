import Logging
import Testing

@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct TextLogHandlerTests {
  @Test(arguments: [
    ("plain text", "plain text"),
    ("a\nb", "a\\u{a}b"),
    ("\u{1b}[31mred", "\\u{1b}[31mred"),
    ("nul\u{0}cut", "nul\\u{0}cut"),
    ("c1\u{85}next", "c1\\u{85}next"),
    ("émoji 😀 stays", "émoji 😀 stays"),
  ])
  func escapesControlCharacters(text: String, expected: String) {
    #expect(TextLogHandler.escape(text) == expected)
  }

  @Test func escapesMetadataOfEveryShape() {
    let value: Logger.Metadata.Value = .dictionary(["a": .array([.string("x\ny")]), "b": "\(1)\r"])
    #expect(
      TextLogHandler.escape(value)
        == .dictionary(["a": .array([.string("x\\u{a}y")]), "b": .string("1\\u{d}")]))
  }
}

@Suite(.timeLimit(.minutes(10))) struct DurationTextTests {
  @Test(arguments: [
    ("7d", Int64(604_800_000)), ("1d12h", 129_600_000), ("500ms", 500), ("90s", 90_000), ("15m", 900_000),
  ])
  func parses(text: String, milliseconds: Int64) {
    #expect(DurationText.milliseconds(text) == milliseconds)
  }

  @Test(arguments: [
    "", "0s", "7", "d", "7x", "-1s", "9223372036854775807d", "9223372036854775s9223372036854775s",
  ])
  func refuses(text: String) {
    #expect(DurationText.milliseconds(text) == nil)
  }

  @Test func checksTheRange() {
    #expect(DurationText.milliseconds("2h", in: 1...3_600_000) == nil)
    #expect(DurationText.milliseconds("1h", in: 1...3_600_000) == 3_600_000)
  }
}
