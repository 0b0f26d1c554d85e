import JobdropModel

/// How an export reads a SQLite table: as SQLite plans the query, or in slices that ``SQLiteSliceScan``
/// spreads over several connections.
///
/// SQLite's planner takes an index for any range it can, even one that covers most of the table; when
/// the rows are not stored in that index's order, each row is then a random page read, and a one-year
/// range over a store loaded in id order takes twice as long as reading the whole table. So before an
/// export the plan is checked:
/// - a full scan is read as slices of the table's rowids;
/// - an index range holding more than a tenth of the table (counted in the index alone, stopping at
///   that tenth) is read as slices of the index's keys when its rows are stored in index order (the
///   rowids of its first few thousand entries nearly contiguous), so only the range is read, in index
///   order; otherwise as rowid slices of the whole table, each row read once in storage order;
/// - a narrow range keeps its index and one connection.
enum SQLiteScanPlan: Equatable {
  /// Run the query as SQLite plans it, on one connection.
  case asPlanned
  /// Read rowids `first...last` of the table in slices, without an index.
  case rowidSlices(first: Int64, last: Int64)
  /// Read the keys `firstKey...lastKey` of `index` (on text `column`) in slices.
  case indexSlices(index: String, column: String, firstKey: String, lastKey: String)

  /// An index range holding at least this share of the table is read as a table scan.
  static let wideRangeShare: Int64 = 10
  /// Index entries whose rowids tell whether a range's rows are stored in index order.
  static let sampleEntries = 4_096

  /// The plan for `query` on `database` (inside the export's read transaction).
  static func choose(for query: ExportQuery, on database: SQLiteDatabase) throws(SQLiteError)
    -> SQLiteScanPlan
  {
    let table = query.jobType.source
    // A catalog source may also be a view or a subquery; only a plain table name is looked up.
    guard CatalogValidator.isIdentifier(table),
      try database.schemaAnswer(
        "rowid table \(table)",
        { () throws(SQLiteError) in
          try hasRowids(table, on: database)
        })
    else { return .asPlanned }
    // Two subqueries: each is then one step down the table's b-tree, where one query with both would scan.
    let bounds = try database.rows(
      "SELECT (SELECT min(rowid) FROM \(table)), (SELECT max(rowid) FROM \(table))")
    guard let first = bounds.first?[0].flatMap({ Int64($0) }),
      let last = bounds.first?[1].flatMap({ Int64($0) })
    else { return .asPlanned }
    let slices = SQLiteScanPlan.rowidSlices(first: first, last: last)
    let steps = try database.rows("EXPLAIN QUERY PLAN " + query.sql, query.condition.bindings).compactMap {
      $0.last ?? nil
    }
    let scan = "SCAN \(table)"
    guard
      let step = steps.first(where: {
        $0 == scan || $0.hasPrefix(scan + " ") || $0.hasPrefix("SEARCH \(table) ")
      })
    else {
      return .asPlanned
    }
    if step.hasPrefix("SCAN ") { return slices }
    // "SEARCH orders USING INDEX orders_created_at (created_at>? AND created_at<?)"; the name may hold spaces.
    guard let using = step.firstRange(of: " USING INDEX ") ?? step.firstRange(of: " USING COVERING INDEX ")
    else {
      return .asPlanned
    }
    var index = String(step[using.upperBound...])
    if index.hasSuffix(")"), let constraints = index.ranges(of: " (").last {
      index = String(index[..<constraints.lowerBound])
    }
    guard
      try !database.rows("SELECT 1 FROM pragma_index_list(?) WHERE name = ?", [.text(table), .text(index)])
        .isEmpty,
      let column = try database.rows("SELECT name FROM pragma_index_info(?)", [.text(index)]).first?.first
        ?? nil,
      let range = query.condition.interval(of: column)
    else { return .asPlanned }
    let quotedIndex = SQLiteDatabase.quoted(index)
    let wide = max((last - first + 1) / wideRangeShare, 1)
    let visited = try database.rows(
      "SELECT count(*) FROM (SELECT 1 FROM \(table) INDEXED BY \(quotedIndex) WHERE \(range.sql) LIMIT \(wide))",
      range.bindings
    ).first?.first.flatMap { $0.flatMap { Int64($0) } }
    guard let visited, visited >= wide else { return .asPlanned }
    // Whether the range's rows are stored in index order: the rowids of its first entries, nearly
    // contiguous.
    let sample = try database.rows(
      "SELECT count(*), min(r), max(r) FROM (SELECT rowid AS r FROM \(table) INDEXED BY \(quotedIndex) "
        + "WHERE \(range.sql) LIMIT \(sampleEntries))", range.bindings
    ).first?.map { $0.flatMap { Int64($0) } }
    guard let sample, let sampled = sample[0], let low = sample[1], let high = sample[2] else {
      return slices
    }
    if high - low + 1 <= 2 * sampled,
      let keys = try textKeys(of: index, column: column, in: table, within: range, on: database)
    {
      return .indexSlices(index: index, column: column, firstKey: keys.first, lastKey: keys.last)
    }
    return slices
  }

  /// The range's first and last keys, when every key in it is text that a `String` holds exactly and the
  /// index keeps them in ascending binary order (as the slice bounds compare them); otherwise `nil`.
  private static func textKeys(
    of index: String, column: String, in table: String, within range: SQLCondition,
    on database: SQLiteDatabase
  ) throws(SQLiteError) -> (first: String, last: String)? {
    let order = try database.rows(
      "SELECT desc, coll FROM pragma_index_xinfo(?) WHERE cid >= 0", [.text(index)])
    guard order.first?[0] == "0", order.first?[1] == "BINARY" else { return nil }
    let key = SQLiteDatabase.quoted(column)
    // SQLite sorts NULL, numbers, text, blobs in that order: text at both ends means text throughout.
    func end(_ direction: String) throws(SQLiteError) -> String? {
      let statement = try database.prepare(
        "SELECT \(key), typeof(\(key)) FROM \(table) INDEXED BY \(SQLiteDatabase.quoted(index)) "
          + "WHERE \(range.sql) ORDER BY \(key) \(direction) LIMIT 1")
      try statement.bind(range.bindings)
      guard try statement.step(), statement.text(at: 1) == "text" else { return nil }
      return statement.exactText(at: 0)
    }
    guard let first = try end("ASC"), let last = try end("DESC") else { return nil }
    return (first, last)
  }

  /// Whether `table` is a table with rowids that its own columns do not hide (none named `rowid`).
  private static func hasRowids(_ table: String, on database: SQLiteDatabase) throws(SQLiteError) -> Bool {
    guard
      let definition = try database.rows(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(table)]
      ).first?.first ?? nil,
      !definition.uppercased().contains("WITHOUT ROWID")
    else { return false }
    return try !database.rows("SELECT name FROM pragma_table_info(?)", [.text(table)]).contains {
      $0[0]?.lowercased() == "rowid"
    }
  }
}
