/// How an export reads a SQLite table: as SQLite plans the query, or as slices of the table's rowids
/// read in order without an index, which ``SQLiteSliceScan`` spreads over several connections.
///
/// SQLite's planner takes an index for any range it can, even one that covers most of the table; when
/// the rows are not stored in that index's order, each row is then a random page read, and a one-year
/// range over a store loaded in id order takes twice as long as reading the whole table. So before an
/// export the plan is checked: a full scan, or an index range that holds more than a tenth of the
/// table (counted in the index alone, stopping at that tenth), becomes a rowid scan; a narrow range
/// keeps its index. Rows come out in rowid order either way when the table was filled in index order.
enum SQLiteScanPlan: Equatable {
  /// Run the query as SQLite plans it, on one connection.
  case asPlanned
  /// Read rowids `first...last` of `table` in slices.
  case rowidSlices(first: Int64, last: Int64)

  /// An index range holding at least this share of the table is read as a table scan.
  static let wideRangeShare: Int64 = 10

  /// The plan for `query` on `database` (inside the export's read transaction).
  static func choose(for query: ExportQuery, on database: SQLiteDatabase) throws(SQLiteError)
    -> SQLiteScanPlan
  {
    let table = query.jobType.source
    // A catalog source may also be a view or a subquery; only a plain table name is looked up.
    guard CatalogValidator.isIdentifier(table),
      let definition = try database.rows(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(table)]
      ).first?.first ?? nil,
      !definition.uppercased().contains("WITHOUT ROWID"),
      try !hasRowidColumn(table, on: database)
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
    guard let step = steps.first(where: { $0.hasPrefix("SCAN \(table)") || $0.hasPrefix("SEARCH \(table) ") })
    else {
      return .asPlanned
    }
    if step.hasPrefix("SCAN ") { return slices }
    // "SEARCH orders USING INDEX orders_created_at (created_at>? AND created_at<?)"
    let words = step.split(separator: " ")
    guard let using = words.firstIndex(of: "INDEX"), using + 1 < words.count else { return .asPlanned }
    let index = String(words[using + 1])
    guard
      let column = try database.rows("SELECT name FROM pragma_index_info(?)", [.text(index)]).first?.first
        ?? nil,
      let range = query.condition.byColumn[column]
    else { return .asPlanned }
    let wide = max((last - first + 1) / wideRangeShare, 1)
    let counted = try database.rows(
      "SELECT count(*) FROM (SELECT 1 FROM \(table) INDEXED BY \(index) WHERE \(range.sql) LIMIT \(wide))",
      range.bindings)
    let visited = counted.first?.first.flatMap { $0.flatMap { Int64($0) } } ?? 0
    return visited >= wide ? slices : .asPlanned
  }

  /// Whether a column is named `rowid`, which would hide the table's own rowid.
  private static func hasRowidColumn(_ table: String, on database: SQLiteDatabase) throws(SQLiteError) -> Bool
  {
    try database.rows("SELECT name FROM pragma_table_info(?)", [.text(table)]).contains {
      $0[0]?.lowercased() == "rowid"
    }
  }
}
