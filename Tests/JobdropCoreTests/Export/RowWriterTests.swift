import Foundation
import Testing

@testable import JobdropExport
@testable import JobdropModel
@testable import JobdropSystem

/// The CSV options, JSON Lines and workbooks, written through an export file and read back.
@Suite(.timeLimit(.minutes(10))) struct RowWriterTests {
  enum Cell {
    case text(String)
    case integer(Int64)
    case null
  }

  let columns = [
    Column(name: "name", type: .text), Column(name: "total", type: .money),
    Column(name: "at", type: .timestamp),
  ]

  /// Writes `rows` with the writer `make` builds on the export file, publishes it, and returns its bytes.
  func write(
    _ rows: [[Cell]], header: Bool = true, name: String = "out",
    _ make: (ExportFile, DirectoryHandle) throws -> any RowWriter
  ) throws -> (Data, TemporaryDirectory) {
    let directory = TemporaryDirectory()
    let folder = try DirectoryHandle(path: directory.path)
    let file = try ExportFile(directory: folder, name: FileName(name))
    let writer = try make(file, folder)
    if header { try writer.header(columns.map(\.name)) }
    try put(rows, into: writer)
    try writer.finish()
    _ = try file.publish()
    return (try Data(contentsOf: URL(fileURLWithPath: directory.path + "/" + name)), directory)
  }

  @Test(arguments: [(UInt8(0x3B), ";"), (0x7C, "|"), (0x09, "\t")])
  func aDelimiterQuotesTheCellsThatHoldItAndNoOthers(byte: UInt8, delimiter: String) throws {
    let (data, _) = try write([
      [.text("a long name\(delimiter)with the delimiter"), .integer(5), .text("x,y")],
      [.text("short"), .null, .text("a \"quote\"")],
    ]) { file, _ in CSVWriter(file: file, delimiter: byte) }
    let d = delimiter
    #expect(
      String(decoding: data, as: UTF8.self)
        == "name\(d)total\(d)at\r\n\"a long name\(d)with the delimiter\"\(d)5\(d)x,y\r\nshort\(d)\(d)\"a \"\"quote\"\"\"\r\n"
    )
  }

  @Test func aByteOrderMarkComesFirstAndOnce() throws {
    let (data, _) = try write([[.text("é"), .integer(1), .null]]) { file, _ in
      CSVWriter(file: file, byteOrderMark: true)
    }
    #expect(Array(data.prefix(3)) == [0xEF, 0xBB, 0xBF])
    #expect(String(decoding: data.dropFirst(3), as: UTF8.self) == "name,total,at\r\né,1,\r\n")
  }

  /// Writes `rows` cell by cell as a data source does; `afterRow` runs after each row with its number.
  func put(_ rows: [[Cell]], into writer: any RowWriter, afterRow: (Int) throws -> Void = { _ in }) throws {
    for (number, row) in rows.enumerated() {
      for (offset, cell) in row.enumerated() {
        switch cell {
        case .text(let text):
          try Array(text.utf8).withUnsafeBytes {
            try writer.text($0, guarded: true, numbersAsIs: columns[offset].type != .text)
          }
        case .integer(let value): try writer.integer(value)
        case .null: try writer.empty()
        }
      }
      try writer.endRow()
      try afterRow(number)
    }
  }

  /// A parallel export's slice writer formats straight into the slice's buffer (room the buffer lends,
  /// grown as needed, kept at each flush): the same bytes as a writer with a buffer of its own, cells
  /// larger than the room and than the whole buffer included.
  @Test(arguments: ["csv", "jsonl"]) func formattingInPlaceGivesTheBytesOfAnOwnBuffer(format: String) throws {
    let huge = String(repeating: "ab\"c,d\n", count: 200_000)  // 1.6 MB, quotes and escapes throughout
    var rows: [[Cell]] = []
    for index in 0..<40 {
      let text: String =
        index == 7 ? huge : index % 5 == 0 ? String(repeating: "x", count: 70_000) : "row \(index)"
      rows.append([.text(text), index % 3 == 0 ? .null : .integer(Int64(index) * -1_000), .text("=\(index)")])
    }
    func make(_ sink: any ByteSink) -> any RowWriter {
      format == "csv" ? CSVWriter(file: sink) : JSONLinesWriter(file: sink, columns: columns)
    }
    let (expected, _) = try write(rows, header: false) { file, _ in make(file) }
    let slice = ChunkBuffer(capacity: 4_096)
    let local = make(slice).sliceWriter(into: slice)  // as the scan makes its connections' writers
    try put(rows, into: local) { number in
      if number % 3 == 0 { try local.flush() }  // a slice's end: what was formatted is kept
    }
    try local.flush()
    // Compared byte by byte: a failing `==` on megabytes would print (and diff) them all.
    #expect(slice.count == expected.count)
    let differs = zip(slice.bytes, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    #expect(differs == nil, "the first difference is at byte \(differs ?? 0)")
  }

  @Test func jsonLinesAreTypedEscapedAndGuarded() throws {
    let (data, _) = try write(
      [
        [.text("say \"hi\"\\ back\nnow\u{1}é😀"), .integer(-12), .text("2024-01-02T03:04:05Z")],
        [.text("=1+2"), .text("1250"), .null],
        [.null, .text("007"), .text("-5")],
      ], header: false
    ) { file, _ in JSONLinesWriter(file: file, columns: columns) }
    let text = String(decoding: data, as: UTF8.self)
    #expect(
      text == #"{"name":"say \"hi\"\\ back\nnow\u0001é😀","total":-12,"at":"2024-01-02T03:04:05Z"}"# + "\n"
        + #"{"name":"'=1+2","total":1250,"at":null}"# + "\n"
        + #"{"name":null,"total":"007","at":"-5"}"# + "\n")
    for line in text.split(separator: "\n") {
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      #expect(object?.count == 3)
    }
  }

  /// Every length a value is scanned by (byte loop, one 16-byte block of two overlapping halves, 16-byte
  /// blocks with an overlapping last one), with each byte that needs escaping, and two that do not, at
  /// every place in it: the escapes JSON Lines writes, and the same text read back by `JSONSerialization`.
  @Test func jsonLinesEscapeEveryLengthAndPlace() throws {
    var values: [String] = []
    for length in 0...70 {
      let plain = String((0..<length).map { Character(UnicodeScalar(UInt8(0x61 + $0 % 26))) })
      values.append(plain)
      for place in 0..<length {
        for special: UInt8 in [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F, 0x22, 0x5C, 0x20, 0x7F] {
          var bytes = Array(plain.utf8)
          bytes[place] = special
          values.append(String(decoding: bytes, as: UTF8.self))
        }
      }
    }
    let (data, _) = try write(values.map { [.text($0), .null, .null] }, header: false) { file, _ in
      JSONLinesWriter(file: file, columns: columns, guardFormulas: false)
    }
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.count == values.count + 1)
    for (value, line) in zip(values, lines) {
      var escaped = ""
      for byte in value.utf8 {
        switch byte {
        case 0x22: escaped += "\\\""
        case 0x5C: escaped += "\\\\"
        case 0x0A: escaped += "\\n"
        case 0x0D: escaped += "\\r"
        case 0x09: escaped += "\\t"
        case 0..<0x20: escaped += "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
        default: escaped += String(UnicodeScalar(byte))
        }
      }
      #expect(line == #"{"name":""# + escaped + #"","total":null,"at":null}"#)
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      #expect(object?["name"] as? String == value)
    }
  }

  @Test func aWorkbookContinuesOnANewSheetPastItsRowsAndReadsBackInOpenpyxl() throws {
    let rows: [[Cell]] = (1...7).map { [.text("row \($0)"), .integer(Int64($0) * 100), .text("=cmd()")] }
    let (_, directory) = try write(rows, name: "out.xlsx") { file, folder in
      try XLSXWriter(
        sink: file, temporaryPath: folder.path + "/.tmp-book.xlsx", columns: columns, rowsPerSheet: 3)
    }
    #expect(directory.list(".") == ["out.xlsx"], "the workbook's temp file is gone")
    let script = """
      import json, openpyxl, sys
      book = openpyxl.load_workbook(sys.argv[1])
      print(json.dumps({name: [[c.value for c in row] + [row[2].data_type if len(row) > 2 else None] \
      for row in book[name].iter_rows()] for name in book.sheetnames}))
      """
    let output = try Self.python(script, directory.path + "/out.xlsx")
    let sheets = try #require(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [[Any?]]])
    #expect(sheets.keys.sorted() == ["export", "export 2", "export 3"])
    #expect(sheets["export"]?.count == 4 && sheets["export 2"]?.count == 4 && sheets["export 3"]?.count == 2)
    let third = try #require(sheets["export 3"])
    #expect(third[0][0] as? String == "name" && third[0][1] as? String == "total")
    #expect(third[1][0] as? String == "row 7")
    #expect(third[1][1] as? Int == 700)
    #expect(third[1][2] as? String == "'=cmd()")
    #expect(third[1][3] as? String == "s", "a guarded cell is a string, never a formula")
  }

  @Test func aCellLongerThanExcelAllowsFailsWithItsRowAndColumn() throws {
    #expect {
      _ = try write([[.text(String(repeating: "x", count: 40_000)), .null, .null]], name: "out.xlsx") {
        file, folder in
        try XLSXWriter(sink: file, temporaryPath: folder.path + "/.tmp-book.xlsx", columns: columns)
      }
    } throws: { error in
      (error as? WriterError)?.description
        == "xlsx: row 1, column 'name' has more than 32767 characters, Excel's limit for a cell (csv and jsonl have none)"
    }
  }

  static func python(_ script: String, _ argument: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, argument]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return String(decoding: data, as: UTF8.self)
  }
}
