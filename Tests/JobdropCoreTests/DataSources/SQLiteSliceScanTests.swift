import Foundation
import Testing

@testable import JobdropCore

/// A table read in rowid slices on several connections gives the same bytes, in rowid order, as one
/// connection reading it whole; the planner keeps an index only for a narrow range.
@Suite struct SQLiteSliceScanTests {
  static let orders = 20_000
  let directory = TemporaryDirectory()
  let store: String

  init() throws {
    store = directory.file("store.sqlite")
    try DemoData(orders: SQLiteSliceScanTests.orders).generate(at: store)
  }

  static let filters = [
    "", "ge(created_at,2025-01-01):lt(created_at,2026-01-01):eq(payment,paid)", "eq(payment,refunded)",
    #"like(email,"*@example.com")"#, "eq(product_sku,SKU-00042)", "eq(created_at,2025-06-01)",
  ]

  @Test(arguments: filters) func slicesGiveTheBytesOfOneReaderInRowidOrder(filter: String) throws {
    let query = try Self.query(filter)
    let (sliced, slicedRows) = try export(
      query, with: SQLiteSource(path: store, workers: 3, sliceRows: 97), as: "a")
    let (whole, wholeRows) = try export(
      query, with: SQLiteSource(path: store, workers: 1, sliceRows: 1 << 40), as: "b")
    #expect(sliced == whole)
    let expected = try ids(where: query.condition)
    #expect(slicedRows == expected.count && wholeRows == expected.count)
    let lines = String(decoding: sliced, as: UTF8.self).split(separator: "\r\n").dropFirst()
    #expect(lines.map { String($0.prefix(36)) } == expected)
  }

  @Test func aWideRangeOrNoIndexIsReadInSlicesAndANarrowRangeKeepsItsIndex() throws {
    let database = try SQLiteDatabase(path: store)
    func plan(_ filter: String) throws -> SQLiteScanPlan {
      try SQLiteScanPlan.choose(for: Self.query(filter), on: database)
    }
    let everything = SQLiteScanPlan.rowidSlices(first: 1, last: Int64(SQLiteSliceScanTests.orders))
    #expect(try plan("") == everything)
    #expect(try plan("eq(payment,paid)") == everything)
    #expect(try plan("ge(created_at,2025-01-01):lt(created_at,2026-01-01):eq(payment,paid)") == everything)
    #expect(try plan("eq(created_at,2025-06-01)") == .asPlanned)
    #expect(try plan("lt(created_at,2021-06-01)") == .asPlanned)
    #expect(try plan("eq(order_number,ORD-00000042)") == everything)  // no index: the table is read anyway
  }

  @Test func aStoreInWALModeIsReadOnOneConnectionWithTheSameBytes() throws {
    let query = try Self.query(Self.filters[1])
    let (before, _) = try export(
      query, with: SQLiteSource(path: store, workers: 1, sliceRows: 1 << 40), as: "a")
    let writable = try SQLiteDatabase(path: store, writable: true)
    try writable.execute("PRAGMA journal_mode = WAL")
    let (after, rows) = try export(query, with: SQLiteSource(path: store, workers: 3, sliceRows: 97), as: "b")
    #expect(after == before)
    #expect(rows == (try ids(where: query.condition)).count)
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

  private func export(_ query: ExportQuery, with source: SQLiteSource, as name: String) throws -> (
    [UInt8], Int
  ) {
    let file = try ExportFile(
      directory: try DirectoryHandle(path: directory.path), name: FileName(name + ".csv"))
    let writer = CSVWriter(file: file)
    try writer.header(query.columns.map(\.name))
    let rows = try source.export(query, to: writer) { _ in }
    try writer.finish()
    _ = try file.publish()
    return (Array(try Data(contentsOf: URL(fileURLWithPath: directory.file(name + ".csv")))), rows)
  }

  private func ids(where condition: SQLCondition) throws -> [String] {
    let database = try SQLiteDatabase(path: store)
    return try database.rows(
      "SELECT id FROM orders WHERE \(condition.sql) ORDER BY rowid", condition.bindings
    )
    .map { $0[0] ?? "" }
  }
}
