import Testing

@testable import JobdropDemo
@testable import JobdropExport
@testable import JobdropModel
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct SQLiteSourceTests {
  @Test func demoDataIsDeterministic() throws {
    let directory = TemporaryDirectory()
    try DemoData(orders: 300).generate(at: directory.file("a.sqlite"))
    try DemoData(orders: 300).generate(at: directory.file("b.sqlite"))
    func dump(_ path: String) throws -> [String] {
      let database = try SQLiteDatabase(path: path)
      let statement = try database.prepare(
        "SELECT id || order_number || name || created_at || with_tax FROM orders ORDER BY rowid")
      var rows: [String] = []
      while try statement.step() { rows.append(statement.text(at: 0) ?? "") }
      return rows
    }
    let first = try dump(directory.file("a.sqlite"))
    #expect(first.count == 300)
    #expect(first == (try dump(directory.file("b.sqlite"))))
  }

  @Test func demoDataCoversEveryValue() throws {
    let directory = TemporaryDirectory()
    try DemoData(orders: 2000).generate(at: directory.file("s.sqlite"))
    let database = try SQLiteDatabase(path: directory.file("s.sqlite"))
    for (column, values) in [
      ("status", DemoData.statuses), ("payment", DemoData.payments), ("currency", DemoData.currencies),
    ] {
      let statement = try database.prepare("SELECT DISTINCT \(column) FROM orders ORDER BY 1")
      var found: [String] = []
      while try statement.step() { found.append(statement.text(at: 0)!) }
      #expect(found == values.sorted())
    }
    let years = try database.prepare("SELECT count(DISTINCT substr(created_at, 1, 4)) FROM orders")
    _ = try years.step()
    #expect(years.integer(at: 0) >= 5)
  }

  /// A source keeps its connections, and each keeps its statements compiled, between exports: the
  /// next export still reads the store as it is then, through a data change, a new index on the
  /// filtered column, a new column and the index dropped again (the ids each export wrote, against the
  /// store's own answer).
  @Test func keptConnectionsAndStatementsReadTheStoreAsItIsNow() throws {
    let directory = TemporaryDirectory()
    let path = directory.file("s.sqlite")
    try DemoData(orders: 300).generate(at: path)
    let source = SQLiteSource(path: path, workers: 1)
    let query = try ExportQuery(
      jobType: .orderExport, request: ExportRequest(jobType: "order_export", filter: "eq(payment,paid)"))
    let store = try SQLiteDatabase(path: path, writable: true)
    var run = 0
    func check() throws {
      run += 1
      let file = try ExportFile(
        directory: try DirectoryHandle(path: directory.path), name: FileName("\(run).csv"))
      let writer = CSVWriter(file: file)
      let rows = try source.export(query, to: writer) { _ in }
      try writer.finish()
      _ = try file.publish()
      let ids = (directory.read("\(run).csv") ?? "").split(separator: "\r\n").map {
        String($0.prefix { $0 != "," })
      }
      let expected = try store.rows("SELECT id FROM orders WHERE payment = 'paid' ORDER BY _rowid_").map {
        $0[0] ?? ""
      }
      #expect(rows == expected.count)
      #expect(ids == expected)
    }
    try check()
    try store.execute("UPDATE orders SET payment = 'paid' WHERE rowid % 7 = 0")
    try check()
    try store.execute("CREATE INDEX orders_payment ON orders (payment)")
    try check()
    try store.execute("ALTER TABLE orders ADD COLUMN note TEXT")
    try store.execute("UPDATE orders SET payment = 'refunded' WHERE rowid % 5 = 0")
    try check()
    try store.execute("DROP INDEX orders_payment")
    try check()
    // A column named `rowid` hides the table's rowids: read as slices of it, the rows would come
    // grouped by its values (first every even row, then every odd one), not as the table holds them.
    try store.execute("ALTER TABLE orders ADD COLUMN rowid INTEGER")
    try store.execute("UPDATE orders SET rowid = _rowid_ % 2 * 10000")
    try check()
    #expect(run == 6)
  }

  @Test func aMissingTableIsAClearError() throws {
    let directory = TemporaryDirectory()
    let database = try SQLiteDatabase(path: directory.file("empty.sqlite"), writable: true, create: true)
    try database.execute("CREATE TABLE t (x)")
    let query = try ExportQuery(jobType: .orderExport, request: ExportRequest(jobType: "order_export"))
    let file = try ExportFile(directory: try DirectoryHandle(path: directory.path), name: FileName("x.csv"))
    #expect {
      try SQLiteSource(path: directory.file("empty.sqlite")).export(query, to: CSVWriter(file: file)) { _ in }
    } throws: { error in
      "\(error)".contains("no such table: orders")
    }
  }
}
