import JobdropModel
import JobdropPostgres

/// Slices of an index scan: ranges of the index's first column cut at the bounds of the column's
/// histogram (`pg_stats.histogram_bounds`: about equal numbers of rows between two bounds), read in key
/// order, so that the slices one after the other are the rows of the one index scan, in its order.
///
/// With N bounds k₁ < … < k_N there are N + 2 slices: below k₁, from each bound to the next, from k_N
/// on, and NULL (last, as an ascending index keeps it). Slices outside the filter's range are empty
/// and cost a round trip each. The bounds go to every connection as a setting (`jobdrop.keys`, an array
/// of the column's type), never as SQL text. Each slice is about the table's rows over N + 1 rows, and
/// a slice is kept in memory until its turn, so a table too large for that (more than
/// ``sliceRows`` × (N + 1) rows, or one value that frequent) is read in one scan; raising the column's
/// statistics target (`ALTER TABLE … ALTER COLUMN … SET STATISTICS 1000`) gives more bounds.
struct PostgresKeyRanges: Equatable {
  /// The most rows a slice is expected to hold (about 12 MB of CSV for an order row).
  static let sliceRows = 50_000

  /// The column, quoted as an identifier by the server.
  let column: String
  /// The column's type as the server writes it (`format_type`).
  let type: String
  /// The bounds, as the text of an array of `type`, ascending and distinct.
  let bounds: String
  /// How many bounds there are.
  let count: Int

  var slices: Int { count + 2 }

  /// The ranges for `query`, whose plan begins with `scan`: when that is an index scan of the query's
  /// table by an ascending B-tree index on a plain column with the default operator class and collation,
  /// the column has a histogram, and its slices are small enough; and when a slice of it is planned as
  /// the same index scan. `nil` otherwise.
  static func plan(for query: ExportQuery, scan: String, on connection: PostgresConnection)
    -> PostgresKeyRanges?
  {
    let prefix = "Index Scan using "
    guard scan.hasPrefix(prefix), let on = scan.firstRange(of: " on ") else { return nil }
    var index = String(scan[scan.index(scan.startIndex, offsetBy: prefix.count)..<on.lowerBound])
    let source = query.jobType.source
    if let dot = source.firstIndex(of: ".") { index = source[...dot] + index }
    guard
      let found = try? connection.execute(PostgresKeyRanges.indexQuery, [.text(index), .text(source)]),
      found.count == 1, let column = found.text(0, 0), let type = found.text(0, 1),
      let rows = found.integer(0, 2), let schema = found.text(0, 3), let table = found.text(0, 4),
      let name = found.text(0, 5)
    else { return nil }
    // `type` is the server's own name of a catalog type, never a partner's text. (pg_stats is a view
    // of every column's statistics: asked by name, it reads one; joined, all of them, 15 ms.)
    guard
      let statistics = try? connection.execute(
        """
        SELECT (SELECT array_agg(DISTINCT b ORDER BY b)::text FROM unnest(histogram_bounds::text::\(type)[]) b),
          (SELECT count(DISTINCT b) FROM unnest(histogram_bounds::text::\(type)[]) b),
          (coalesce((SELECT max(f) FROM unnest(most_common_freqs) f), 0) * $4)::bigint
        FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3 AND NOT inherited
          AND histogram_bounds IS NOT NULL
        """, [.text(schema), .text(table), .text(name), .integer(rows)]),
      statistics.count == 1, let bounds = statistics.text(0, 0), let count = statistics.integer(0, 1),
      let frequent = statistics.integer(0, 2), count >= 1,
      rows / (count + 1) <= Int64(sliceRows), frequent <= Int64(sliceRows)
    else { return nil }
    let ranges = PostgresKeyRanges(column: column, type: type, bounds: bounds, count: Int(count))
    return ranges.keepsTheScan(of: query, index: index, on: connection) ? ranges : nil
  }

  /// The first column of the index (`$1`) on the table (`$2`), quoted, its type, the table's rows, and
  /// the schema, table and column names (for `pg_stats`), when the index is an ascending B-tree on a
  /// plain column, with the type's default operator class, in the column's collation, which is the
  /// default one (so that sorting the bounds orders them as the index does).
  static let indexQuery = """
    SELECT quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), t.reltuples::bigint, n.nspname,
      t.relname, a.attname
    FROM pg_index i
    JOIN pg_class x ON x.oid = i.indexrelid
    JOIN pg_am m ON m.oid = x.relam
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
    JOIN pg_opclass o ON o.oid = i.indclass[0]
    WHERE i.indexrelid = to_regclass($1) AND t.oid = $2::regclass AND m.amname = 'btree'
      AND i.indoption[0] = 0 AND o.opcdefault AND a.attcollation IN (0, 100)
      AND i.indcollation[0] = a.attcollation
    """

  /// Whether a middle slice of `query` is planned as a scan of `index` too, in a transaction with the
  /// slices' settings that is rolled back.
  private func keepsTheScan(of query: ExportQuery, index: String, on connection: PostgresConnection) -> Bool {
    guard (try? connection.execute("BEGIN")) != nil else { return false }
    defer { _ = try? connection.execute("ROLLBACK") }
    let middle = query.dialect.placeholders(
      query.sql(reading: query.jobType.source, within: bounds(ofSlice: slices / 2)))
    guard (try? settle(connection)) != nil,
      let plan = try? connection.execute("EXPLAIN " + middle, query.condition.bindings).text(0, 0)
    else { return false }
    let name = index.split(separator: ".").last.map(String.init) ?? index
    return plan.hasPrefix("Index Scan using \(name) on ")
  }

  /// This transaction's settings, in one round trip: the bounds, and no other way to read the table
  /// than by an index.
  func settle(_ connection: PostgresConnection) throws(PostgresError) {
    try connection.execute(
      "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), "
        + "set_config('enable_indexonlyscan', 'off', true), set_config('enable_tidscan', 'off', true), "
        + "set_config('jobdrop.keys', $1, true)", [.text(bounds)])
  }

  /// The condition of slice `number`.
  func bounds(ofSlice number: Int) -> String {
    func key(_ position: Int) -> String { "(current_setting('jobdrop.keys')::\(type)[])[\(position)]" }
    switch number {
    case 0: return "\(column) < \(key(1))"
    case count: return "\(column) >= \(key(count))"
    case count + 1: return "\(column) IS NULL"
    default: return "\(column) >= \(key(number)) AND \(column) < \(key(number + 1))"
    }
  }
}
