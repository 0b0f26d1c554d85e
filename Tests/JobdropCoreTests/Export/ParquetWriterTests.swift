import Foundation
import Testing

@testable import JobdropExport
@testable import JobdropModel
@testable import JobdropSystem

/// Parquet files written by ``ParquetWriter`` and read back by pyarrow and DuckDB: types, values, NULLs,
/// row groups, statistics and encodings, and a file of no rows.
@Suite(.timeLimit(.minutes(5))) struct ParquetWriterTests {
  let columns = [
    Column(name: "name", type: .text), Column(name: "status", type: .enum),
    Column(name: "total", type: .money), Column(name: "at", type: .timestamp),
  ]

  /// Writes `rows` (NULL as `nil`; integers given as text where `asText`) and returns the file's path.
  func write(
    _ rows: [[String?]], in directory: TemporaryDirectory,
    rowGroupBytes: Int = ParquetWriter.defaultRowGroupBytes
  ) throws -> String {
    let folder = try DirectoryHandle(path: directory.path)
    let file = try ExportFile(directory: folder, name: FileName("out.parquet"))
    let writer = ParquetWriter(sink: file, columns: columns, rowGroupBytes: rowGroupBytes)
    try writer.header(columns.map(\.name))
    for (number, row) in rows.enumerated() {
      for (offset, cell) in row.enumerated() {
        if let cell {
          // Money arrives as an integer from SQLite and as text from PostgreSQL: both ways here.
          if columns[offset].type == .money && number % 2 == 0 {
            try writer.integer(Int64(cell)!)
          } else {
            try Array(cell.utf8).withUnsafeBytes {
              try writer.text($0, guarded: true, numbersAsIs: columns[offset].type != .text)
            }
          }
        } else {
          try writer.empty()
        }
      }
      try writer.endRow()
    }
    try writer.finish()
    _ = try file.publish()
    return directory.path + "/out.parquet"
  }

  /// Reads the file with pyarrow and DuckDB; prints what the tests compare.
  static let reader = #"""
    import json, sys, duckdb, pyarrow.parquet as pq
    path = sys.argv[1]
    f = pq.ParquetFile(path)
    table = f.read()
    def cell(v):
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if hasattr(v, "strftime") else v
    rows = [[cell(v) for v in row] for row in zip(*(c.to_pylist() for c in table.columns))]
    con = duckdb.connect(); con.execute("SET TimeZone = 'UTC'")
    duck = [[cell(v) for v in row] for row in con.execute("SELECT * FROM read_parquet(?)", [path]).fetchall()]
    groups = []
    for g in range(f.metadata.num_row_groups):
        values = f.read_row_group(g)
        for i in range(f.metadata.num_columns):
            chunk = f.metadata.row_group(g).column(i)
            s = chunk.statistics
            present = [v for v in values.column(i).to_pylist() if v is not None]
            ok = s.null_count == values.column(i).null_count and (
                not present or (s.has_min_max and s.min == min(present) and s.max == max(present)))
            groups.append({"group": g, "column": chunk.path_in_schema, "stats_ok": ok,
                           "encodings": sorted(chunk.encodings), "compression": chunk.compression})
    print(json.dumps({"types": [str(t) for t in table.schema.types], "rows": rows, "duckdb_equal": duck == rows,
                      "row_groups": f.metadata.num_row_groups, "chunks": groups,
                      "created_by": f.metadata.created_by}))
    """#

  func read(_ path: String) throws -> [String: Any] {
    let output = try RowWriterTests.python(ParquetWriterTests.reader, path)
    return try #require(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
  }

  @Test func rowsNullsAndTimesReadBackInPyarrowAndDuckDBOverManyRowGroups() throws {
    let statuses = ["paid", "refunded", "pending"]
    var rows: [[String?]] = []
    var expected: [[Any]] = []
    for number in 0..<3000 {
      let name: String? = number % 7 == 0 ? nil : number % 11 == 0 ? "=HYPERLINK(\(number))" : "Zoë \(number)"
      let total: String? = number % 5 == 0 ? nil : "\(number * 37 - 20000)"
      let at = [
        "2024-02-29T23:59:59Z", "2024-02-29 23:59:59", "2024-03-01T01:00:00.250+02:00",
        "1969-12-31T23:59:59Z",
      ][
        number % 4]
      rows.append([name, statuses[number % 3], total, at])
      let atUTC = [
        "2024-02-29T23:59:59.000Z", "2024-02-29T23:59:59.000Z", "2024-02-29T23:00:00.250Z",
        "1969-12-31T23:59:59.000Z",
      ][number % 4]
      expected.append([
        name.map { $0.hasPrefix("=") ? "'" + $0 : $0 } ?? NSNull(), statuses[number % 3],
        total.map { Int($0)! } ?? NSNull(), atUTC,
      ])
    }
    let directory = TemporaryDirectory()
    defer { withExtendedLifetime(directory) {} }
    let path = try write(rows, in: directory, rowGroupBytes: 16 << 10)
    let read = try read(path)
    #expect(read["types"] as? [String] == ["string", "string", "int64", "timestamp[ms, tz=UTC]"])
    #expect((read["row_groups"] as? Int ?? 0) > 3)
    #expect(read["duckdb_equal"] as? Bool == true)
    let got = try #require(read["rows"] as? [[Any]])
    #expect(got.count == 3000)
    for (number, (mine, theirs)) in zip(got, expected).enumerated() {
      #expect("\(mine)" == "\(theirs)", "row \(number)")
      if "\(mine)" != "\(theirs)" { break }
    }
    let chunks = try #require(read["chunks"] as? [[String: Any]])
    #expect(chunks.allSatisfy { $0["stats_ok"] as? Bool == true && $0["compression"] as? String == "ZSTD" })
    // Few distinct statuses: a dictionary; names (all distinct past the dictionary's limit in a real
    // export) and numbers PLAIN.
    let status = chunks.filter { $0["column"] as? String == "status" }
    #expect(status.allSatisfy { ($0["encodings"] as? [String])?.contains("RLE_DICTIONARY") == true })
    let total = chunks.filter { $0["column"] as? String == "total" }
    #expect(total.allSatisfy { ($0["encodings"] as? [String])?.contains("RLE_DICTIONARY") == false })
    #expect((read["created_by"] as? String)?.hasPrefix("jobdrop version ") == true)
  }

  @Test func aFileOfNoRowsHasItsSchema() throws {
    let directory = TemporaryDirectory()
    defer { withExtendedLifetime(directory) {} }
    let path = try write([], in: directory)
    let read = try read(path)
    #expect(read["types"] as? [String] == ["string", "string", "int64", "timestamp[ms, tz=UTC]"])
    #expect((read["rows"] as? [Any])?.count == 0)
    #expect(read["row_groups"] as? Int == 0)
    #expect(read["duckdb_equal"] as? Bool == true)
  }

  @Test func aValueThatIsNotOfItsColumnsTypeFailsWithItsRowAndColumn() throws {
    #expect {
      _ = try write(
        [["a", "paid", "12", "2024-01-01T00:00:00Z"], ["b", "paid", "7", "yesterday"]],
        in: TemporaryDirectory())
    } throws: { error in
      (error as? WriterError)?.publicDescription
        == "parquet: row 2, column 'at' holds 'yesterday', not a time (YYYY-MM-DDTHH:MM:SSZ)"
    }
    #expect {
      _ = try write(
        [["a", "paid", "12", "2024-01-01T00:00:00Z"], ["b", "paid", "1.5", "2024-01-01T00:00:00Z"]],
        in: TemporaryDirectory())
    } throws: { error in
      (error as? WriterError)?.publicDescription
        == "parquet: row 2, column 'total' holds '1.5', not a whole number"
    }
  }
}
