import Foundation
import JobdropCrypto
import Testing

@testable import JobdropDemo
@testable import JobdropExport
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct CSVWriterTests {
  enum Cell {
    case text(String, guarded: Bool = true)
    case integer(Int64)
    case null
  }

  func csv(_ rows: [[Cell]], guardFormulas: Bool = true, delimiter: UInt8 = 0x2C) throws -> (String, String) {
    let directory = TemporaryDirectory()
    let folder = try DirectoryHandle(path: directory.path)
    let file = try ExportFile(directory: folder, name: FileName("out.csv"))
    let writer = CSVWriter(file: file, guardFormulas: guardFormulas, delimiter: delimiter)
    for row in rows {
      for cell in row {
        switch cell {
        case .text(let text, let guarded):
          try Array(text.utf8).withUnsafeBytes { try writer.text($0, guarded: guarded) }
        case .integer(let value): try writer.integer(value)
        case .null: try writer.empty()
        }
      }
      try writer.endRow()
    }
    try writer.flush()
    let sha = try file.publish()
    #expect(directory.list(".") == ["out.csv"])
    return (directory.read("out.csv")!, sha)
  }

  @Test func quotesPerRFC4180() throws {
    let (text, _) = try csv([
      [.text("plain"), .text("a,b"), .text("say \"hi\""), .text("two\nlines"), .text("cr\rhere"), .text("")],
      [
        .text("é ü 😀"), .null, .integer(-42), .integer(Int64.min), .integer(0),
        .integer(9_007_199_254_740_993),
      ],
    ])
    #expect(
      text
        == "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rhere\",\r\n"
        + "é ü 😀,,-42,-9223372036854775808,0,9007199254740993\r\n")
  }

  /// The OWASP CSV-injection list: cells starting with = + - @ tab or CR.
  @Test(arguments: [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "\"'\rx\""), ("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
    ("a=b", "a=b"), ("", ""),
  ])
  func guardsFormulaCells(cell: String, expected: String) throws {
    let (text, _) = try csv([[.text(cell)]])
    #expect(text == expected + "\r\n")
  }

  @Test func leavesNumbersAndUnguardedColumnsAlone() throws {
    let (text, _) = try csv([[.integer(-5), .text("-5", guarded: false)]])
    #expect(text == "-5,-5\r\n")
  }

  @Test func rawModeTurnsTheGuardOff() throws {
    let (text, _) = try csv([[.text("=1+2"), .text("@x")]], guardFormulas: false)
    #expect(text == "=1+2,@x\r\n")
  }

  @Test func streamsCellsLargerThanTheBuffer() throws {
    let big = String(repeating: "ab\"", count: CSVWriter.bufferSize)
    let (text, sha) = try csv([[.text("x"), .text(big)], [.text("y")]])
    let expected = "x,\"" + big.replacingOccurrences(of: "\"", with: "\"\"") + "\"\r\ny\r\n"
    #expect(text == expected)
    #expect(sha == SHA256Digest.hex(of: Array(expected.utf8)))
  }

  @Test func publishesNothingWhenDiscarded() throws {
    let directory = TemporaryDirectory()
    let file = try ExportFile(directory: try DirectoryHandle(path: directory.path), name: FileName("out.csv"))
    let writer = CSVWriter(file: file)
    try writer.header(["a"])
    try writer.flush()
    file.discard()
    #expect(directory.list(".") == [])
  }

  /// Every length a cell is scanned and copied by (byte table, one 16-byte block of two overlapping
  /// halves, 16-byte blocks with an overlapping last one; 4- and 8-byte overlapping words, memmove), with
  /// each special byte at every place in it, the other delimiters there too (left as they are), and
  /// integers at every digit count and both ends: as RFC 4180 and `String(value)` say, with each
  /// delimiter.
  @Test(arguments: [",", ";", "\t", "|"])
  func everyCellLengthAndPlaceOfASpecialByteAndEveryDigitCount(delimiter: String) throws {
    var rows: [[Cell]] = []
    var expected: [String] = []
    let others = [",", ";", "\t", "|"].filter { $0 != delimiter }
    for length in 0...70 {
      let plain = String((0..<length).map { Character(UnicodeScalar(UInt8(0x61 + $0 % 26))) })
      rows.append([.text(plain, guarded: false)])
      expected.append(plain)
      for place in 0..<length {
        for special in [delimiter, "\"", "\n", "\r"] + others {
          var characters = Array(plain)
          characters[place] = Character(special)
          let text = String(characters)
          rows.append([.text(text, guarded: false)])
          expected.append(
            others.contains(special) ? text : "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"")
        }
      }
    }
    var integers: [Int64] = [0, Int64.min, Int64.max, Int64.min + 1]
    var power: Int64 = 1
    for _ in 0..<19 {
      integers += [power - 1, power, power + 1, -power, -(power - 1)]
      if power <= Int64.max / 10 { power *= 10 }
    }
    rows += integers.map { [.integer($0)] }
    expected += integers.map { String($0) }
    let (text, _) = try csv(
      rows, guardFormulas: false, delimiter: UInt8(ascii: delimiter.unicodeScalars.first!))
    #expect(text == expected.map { $0 + "\r\n" }.joined())
  }

  /// A row of PostgreSQL's COPY text format taken whole (``CSVWriter/copyTextRow(_:numbers:columns:)``)
  /// gives the bytes the same row gives cell by cell: 4,000 rows of values that need nothing, quoting,
  /// COPY escapes, NULL, formula guards and plain numbers in typed and free columns, at every place in
  /// the 16- and 32-byte blocks (SSE2 and AVX2), with each delimiter and the guard on and off. Rows the
  /// whole-row path declines
  /// go cell by cell, as in the export; both paths must have been taken.
  @Test(arguments: [
    (",", true, true), (",", true, false), (";", true, true), ("|", false, false), ("\t", true, true),
  ])
  func copyTextRowsGiveTheBytesOfTheirCells(delimiter: String, guardFormulas: Bool, wide: Bool) throws {
    let pool: [String?] = [
      nil, "", "a", "plain text", "0123456789abcdef", "0123456789abcdefg", "-12", "+3.50", "-1a", "=1+2",
      "@x",
      "-", "12.", "a,b", "a;b", "a|b", "say \"hi\"", "two\nlines", "cr\rhere", "tab\there", "back\\slash",
      "\\N", "N", "é ü 😀", String(repeating: "x", count: 40), "-" + String(repeating: "9", count: 30),
    ]
    var random = SplitMix64(seed: 40)
    let columns = 5
    var rows: [[String?]] = []
    for _ in 0..<4_000 {
      rows.append((0..<columns).map { _ in pool[Int(random.next() % UInt64(pool.count))] })
    }
    let numbers = random.next() & 0b11111
    let delimiterByte = UInt8(ascii: delimiter.unicodeScalars.first!)
    var whole = 0
    func write(_ rows: [[String?]], wholeRows: Bool) throws -> String {
      let directory = TemporaryDirectory()
      let file = try ExportFile(
        directory: try DirectoryHandle(path: directory.path), name: FileName("out.csv"))
      let writer = CSVWriter(
        file: file, guardFormulas: guardFormulas, delimiter: delimiterByte, bufferSize: 4096)
      writer.wideVectors = wide && CSVWriter.hasAVX2
      for row in rows {
        if wholeRows {
          let line =
            row.map { value in
              guard let value else { return "\\N" }
              return value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
                of: "\t", with: "\\t"
              )
              .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
            }.joined(separator: "\t") + "\n"
          let taken = try Array(line.utf8).withUnsafeBytes {
            try writer.copyTextRow($0, numbers: numbers, columns: columns)
          }
          if taken {
            whole += 1
            continue
          }
        }
        for (column, value) in row.enumerated() {
          guard let value else {
            try writer.empty()
            continue
          }
          try Array(value.utf8).withUnsafeBytes {
            try writer.text($0, guarded: true, numbersAsIs: numbers & (1 << UInt64(column)) != 0)
          }
        }
        try writer.endRow()
      }
      try writer.flush()
      _ = try file.publish()
      return directory.read("out.csv")!
    }
    let cellByCell = try write(rows, wholeRows: false)
    let wholeRows = try write(rows, wholeRows: true)
    #expect((wholeRows == cellByCell) == true)
    if delimiter == "\t" {
      #expect(whole == 0)
    } else {
      #expect(whole > 100 && whole < rows.count)
    }
  }
}
