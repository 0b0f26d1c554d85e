import Foundation
import Testing

@testable import JobdropDemo
@testable import JobdropExport
@testable import JobdropModel
@testable import JobdropSystem

/// A table read in slices (of rowids, or of an index's keys) on several connections gives the same
/// bytes as one connection reading it whole; the planner keeps an index only for a narrow range.
@Suite(.timeLimit(.minutes(10))) struct SQLiteSliceScanTests {
  static let orders = 20_000
  let directory = TemporaryDirectory()
  /// The demo store: rows in creation order.
  let store: String
  /// The same orders loaded in id order, as a restore from a dump sorted by primary key leaves them.
  let storeByID: String

  init() throws {
    store = directory.file("store.sqlite")
    storeByID = directory.file("by-id.sqlite")
    try DemoData(orders: SQLiteSliceScanTests.orders).generate(at: store)
    let copy = try SQLiteDatabase(path: storeByID, writable: true, create: true)
    try copy.execute(DemoData.schema)
    try copy.execute(
      "ATTACH '\(store)' AS demo; INSERT INTO orders SELECT * FROM demo.orders ORDER BY id; "
        + "INSERT INTO order_items SELECT * FROM demo.order_items; DETACH demo; " + DemoData.indexes)
  }

  static let filters = [
    "", "ge(created_at,2025-01-01):lt(created_at,2026-01-01):eq(payment,paid)", "eq(payment,refunded)",
    #"like(email,"*@example.com")"#, "eq(product_sku,SKU-00042)", "eq(created_at,2025-06-01)",
  ]

  /// Small slices are copied into the writer's buffer; slices of 256 KiB or more (4,096 orders) are
  /// handed to the file's writer thread as they are.
  @Test(arguments: filters, [97, 4_096]) func slicesGiveTheBytesOfOneReader(filter: String, sliceRows: Int64)
    throws
  {
    let query = try Self.query(filter)
    for path in [store, storeByID] {
      let (sliced, slicedRows) = try export(
        query, with: SQLiteSource(path: path, workers: 3, sliceRows: sliceRows), as: "a")
      let (whole, wholeRows) = try export(
        query, with: SQLiteSource(path: path, workers: 1, sliceRows: 1 << 40), as: "b")
      expectSameBytes(sliced, whole)
      let expected = try ids(in: path, where: query.condition)
      #expect(slicedRows == expected.count && wholeRows == expected.count)
      let written = String(decoding: sliced, as: UTF8.self).split(separator: "\r\n").dropFirst()
        .map { String($0.prefix(36)) }
      if path == store {
        // Rows stored in creation order come out in that order, whichever way they were read.
        #expect(written == expected)
      } else {
        #expect(written.sorted() == expected.sorted())
      }
    }
  }

  @Test(arguments: [97, 4_096]) func jsonLinesSlicesGiveTheBytesOfOneReader(sliceRows: Int64) throws {
    let query = try Self.query("")
    let (sliced, rows) = try export(
      query, with: SQLiteSource(path: store, workers: 3, sliceRows: sliceRows), as: "a", jsonLines: true)
    let (whole, _) = try export(
      query, with: SQLiteSource(path: store, workers: 1, sliceRows: 1 << 40), as: "b", jsonLines: true)
    expectSameBytes(sliced, whole)
    #expect(rows == SQLiteSliceScanTests.orders)
    let lines = String(decoding: sliced, as: UTF8.self).split(separator: "\n")
    #expect(lines.count == SQLiteSliceScanTests.orders)
    let last = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any]
    #expect(last?["id"] as? String == (try ids(in: store, where: query.condition)).last)
  }

  @Test func theRangeIsReadThroughItsIndexOnlyWhenRowsAreStoredInItsOrder() throws {
    func plan(_ filter: String, in path: String) throws -> SQLiteScanPlan {
      try SQLiteScanPlan.choose(for: Self.query(filter), on: try SQLiteDatabase(path: path))
    }
    let everything = SQLiteScanPlan.rowidSlices(first: 1, last: Int64(SQLiteSliceScanTests.orders))
    let wide = "ge(created_at,2025-01-01):lt(created_at,2026-01-01):eq(payment,paid)"
    let keys = try SQLiteDatabase(path: store).rows(
      "SELECT min(created_at), max(created_at) FROM orders WHERE created_at >= '2025-01-01T00:00:00Z'")[0]
    #expect(
      try plan(wide, in: store)
        == .indexSlices(
          index: "orders_created_at", column: "created_at", firstKey: keys[0]!, lastKey: keys[1]!))
    #expect(try plan(wide, in: storeByID) == everything)
    for path in [store, storeByID] {
      #expect(try plan("", in: path) == everything)
      #expect(try plan("eq(payment,paid)", in: path) == everything)
      #expect(try plan("eq(order_number,ORD-00000042)", in: path) == everything)  // no index: read anyway
      #expect(try plan("eq(created_at,2025-06-01)", in: path) == .asPlanned)
      #expect(try plan("lt(created_at,2021-06-01)", in: path) == .asPlanned)
    }
  }

  @Test func aKeyFillingSeveralSlicesIsReadOnce() throws {
    let writable = try SQLiteDatabase(path: store, writable: true)
    try writable.execute(
      "UPDATE orders SET created_at = '2025-06-01T00:00:00Z' WHERE rowid BETWEEN 15000 AND 15500")
    let query = try Self.query("ge(created_at,2025-01-01)")
    guard case .indexSlices = try SQLiteScanPlan.choose(for: query, on: try SQLiteDatabase(path: store))
    else {
      Issue.record("expected the range to be read through its index")
      return
    }
    let (sliced, rows) = try export(
      query, with: SQLiteSource(path: store, workers: 3, sliceRows: 97), as: "a")
    let (whole, _) = try export(
      query, with: SQLiteSource(path: store, workers: 1, sliceRows: 1 << 40), as: "b")
    expectSameBytes(sliced, whole)
    let expected = try SQLiteDatabase(path: store).rows(
      "SELECT id FROM orders WHERE created_at >= '2025-01-01T00:00:00Z' ORDER BY created_at, rowid"
    ).map { $0[0] ?? "" }
    #expect(rows == expected.count)
    let written = String(decoding: sliced, as: UTF8.self).split(separator: "\r\n").dropFirst()
    #expect(written.map { String($0.prefix(36)) } == expected)
  }

  @Test func anIndexWhoseNameNeedsQuotingIsUsedToo() throws {
    let writable = try SQLiteDatabase(path: store, writable: true)
    try writable.execute(
      #"DROP INDEX orders_created_at; CREATE INDEX "created at-index" ON orders (created_at)"#)
    let query = try Self.query("ge(created_at,2025-01-01):eq(payment,paid)")
    guard case .indexSlices(let index, _, _, _) = try SQLiteScanPlan.choose(for: query, on: writable) else {
      Issue.record("expected the range to be read through its index")
      return
    }
    #expect(index == "created at-index")
    let (sliced, rows) = try export(
      query, with: SQLiteSource(path: store, workers: 3, sliceRows: 97), as: "a")
    let (whole, _) = try export(
      query, with: SQLiteSource(path: store, workers: 1, sliceRows: 1 << 40), as: "b")
    expectSameBytes(sliced, whole)
    #expect(rows == (try ids(in: store, where: query.condition)).count)
  }

  @Test func aStoreInWALModeIsReadOnOneConnectionWithTheSameBytes() throws {
    let query = try Self.query(Self.filters[1])
    let (before, _) = try export(
      query, with: SQLiteSource(path: store, workers: 1, sliceRows: 1 << 40), as: "a")
    let writable = try SQLiteDatabase(path: store, writable: true)
    try writable.execute("PRAGMA journal_mode = WAL")
    let (after, rows) = try export(query, with: SQLiteSource(path: store, workers: 3, sliceRows: 97), as: "b")
    expectSameBytes(after, before)
    #expect(rows == (try ids(in: store, where: query.condition)).count)
  }

  @Test func anErrorFromProgressStopsEveryConnection() throws {
    struct Cancelled: Error {}
    let query = try Self.query("")
    let file = try ExportFile(directory: try DirectoryHandle(path: directory.path), name: FileName("c.csv"))
    let source = SQLiteSource(path: store, workers: 3, sliceRows: 97)
    #expect(throws: Cancelled.self) {
      _ = try source.export(query, to: CSVWriter(file: file)) { rows in if rows > 1_000 { throw Cancelled() }
      }
    }
    file.discard()
    // The connections went back to no transaction: a writer can commit at once.
    let writable = try SQLiteDatabase(path: store, writable: true)
    try writable.execute("UPDATE orders SET tax = tax WHERE rowid = 1")
  }

  static func query(_ filter: String) throws -> ExportQuery {
    try ExportQuery(jobType: .orderExport, request: ExportRequest(jobType: "order_export", filter: filter))
  }

  private func export(
    _ query: ExportQuery, with source: SQLiteSource, as name: String, jsonLines: Bool = false
  )
    throws -> ([UInt8], Int)
  {
    let file = try ExportFile(
      directory: try DirectoryHandle(path: directory.path), name: FileName(name + ".out"))
    let rows: Int
    if jsonLines {
      let writer = JSONLinesWriter(file: file, columns: query.columns)
      rows = try source.export(query, to: writer) { _ in }
      try writer.finish()
    } else {
      let writer = CSVWriter(file: file)
      try writer.header(query.columns.map(\.name))
      rows = try source.export(query, to: writer) { _ in }
      try writer.finish()
    }
    _ = try file.publish()
    return (Array(try Data(contentsOf: URL(fileURLWithPath: directory.file(name + ".out")))), rows)
  }

  /// Fails with the sizes and the first line that differs (not two whole files' bytes) when `actual`
  /// is not `expected`.
  private func expectSameBytes(
    _ actual: [UInt8], _ expected: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
  ) {
    guard actual != expected else { return }
    let differs =
      zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
      ?? min(actual.count, expected.count)
    let lineStart = expected[..<differs].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
    func line(_ bytes: [UInt8]) -> String {
      String(decoding: bytes[min(lineStart, bytes.count)...].prefix { $0 != 0x0A }, as: UTF8.self)
    }
    let message =
      "\(actual.count) bytes, expected \(expected.count); first difference at byte \(differs), in the line "
      + "\(line(actual)) (expected \(line(expected)))"
    Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
  }

  private func ids(in path: String, where condition: SQLCondition) throws -> [String] {
    let database = try SQLiteDatabase(path: path)
    return try database.rows(
      "SELECT id FROM orders WHERE \(condition.sql) ORDER BY rowid", condition.bindings
    )
    .map { $0[0] ?? "" }
  }
}
