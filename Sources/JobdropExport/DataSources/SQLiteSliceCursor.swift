import JobdropModel

/// Cuts what an export reads into consecutive slices for ``SQLiteSliceScan``: rowid ranges of the whole
/// table, or ranges of an index's text keys found by walking the index a few thousand entries at a
/// time. Slices are handed out in order, one at a time (the scan holds its lock around ``next(on:)``).
final class SQLiteSliceCursor {
  /// The statements one connection reads slices with.
  final class Reader {
    /// Reads a slice up to (not including) its upper bound.
    let bounded: SQLiteStatement
    /// Reads the last slice of an index range, up to and including the range's last key.
    let last: SQLiteStatement?
    /// Finds the key a slice's worth of index entries after a key.
    let walk: SQLiteStatement?
    /// Finds the first key above a key (when one key fills a whole slice).
    let above: SQLiteStatement?

    fileprivate init(
      bounded: SQLiteStatement, last: SQLiteStatement? = nil, walk: SQLiteStatement? = nil,
      above: SQLiteStatement? = nil
    ) {
      self.bounded = bounded
      self.last = last
      self.walk = walk
      self.above = above
    }

    /// Rewinds every statement and clears its bindings, so that none holds a lock after the scan.
    func reset() {
      for statement in [bounded, last, walk, above] { statement?.reset() }
    }
  }

  /// The statement that reads a slice, and every value to bind to it (the bounds first).
  typealias Slice = (statement: SQLiteStatement, bindings: [SQLValue])

  private let query: ExportQuery
  private let cut: Cut
  /// The next slice's lower bound; `nil` once every slice is out.
  private var nextLow: SQLValue?

  private enum Cut {
    case rowids(last: Int64, size: Int64)
    /// Keys `...lastKey` of `index` on `column`, `entries` index entries a slice; `rest` is the query's
    /// condition without the clauses bounding `column` (the keys between the range's first and last are
    /// exactly the range).
    case indexKeys(index: String, column: String, lastKey: SQLValue, rest: SQLCondition, entries: Int)
  }

  /// Slices of `size` rowids from `first` to `last`.
  init(query: ExportQuery, rowidsFrom first: Int64, to last: Int64, size: Int64) {
    self.query = query
    cut = .rowids(last: last, size: size)
    nextLow = .integer(first)
  }

  /// Slices of about `entries` entries of `index` on `column`, over the keys `firstKey...lastKey` (the
  /// query's interval on that column).
  init(query: ExportQuery, index: String, column: String, firstKey: String, lastKey: String, entries: Int) {
    self.query = query
    cut = .indexKeys(
      index: index, column: column, lastKey: .text(lastKey),
      rest: query.condition.excludingInterval(of: column),
      entries: entries)
    nextLow = .text(firstKey)
  }

  /// One connection's statements, which it keeps compiled for the next export (``Reader/reset()`` them
  /// once the scan is over).
  func reader(on database: SQLiteDatabase) throws(SQLiteError) -> Reader {
    let table = query.jobType.source
    switch cut {
    case .rowids:
      let statements = try database.keptStatements([
        query.sql(reading: "\(table) NOT INDEXED", within: "rowid >= ? AND rowid < ?")
      ])
      return Reader(bounded: statements[0])
    case .indexKeys(let index, let name, _, let rest, let entries):
      let source = "\(table) INDEXED BY \(SQLiteDatabase.quoted(index))"
      let column = SQLiteDatabase.quoted(name)
      let statements = try database.keptStatements([
        query.sql(reading: source, within: "\(column) >= ? AND \(column) < ?", where: rest),
        query.sql(reading: source, within: "\(column) >= ? AND \(column) <= ?", where: rest),
        "SELECT \(column) FROM \(source) WHERE \(column) >= ? AND \(column) <= ? ORDER BY \(column) "
          + "LIMIT 1 OFFSET \(entries)",
        "SELECT min(\(column)) FROM \(source) WHERE \(column) > ? AND \(column) <= ?",
      ])
      return Reader(bounded: statements[0], last: statements[1], walk: statements[2], above: statements[3])
    }
  }

  /// The next slice, read with `reader`'s statements (which also look up its upper bound); `nil` once
  /// every slice is out.
  func next(on reader: Reader) throws(SQLiteError) -> Slice? {
    guard let low = nextLow else { return nil }
    switch cut {
    case .rowids(let last, let size):
      guard case .integer(let first) = low, first <= last else { return nil }
      nextLow = .integer(first + size)
      return (reader.bounded, [low, .integer(first + size)] + query.condition.bindings)
    case .indexKeys(_, _, let lastKey, let rest, _):
      var high = try key(from: reader.walk!, with: [low, lastKey])
      if high == low { high = try key(from: reader.above!, with: [low, lastKey]) }
      nextLow = high
      guard let high else { return (reader.last!, [low, lastKey] + rest.bindings) }
      return (reader.bounded, [low, high] + rest.bindings)
    }
  }

  /// The text key `statement` finds with `values`, or `nil` when it finds none. A key a `String` cannot
  /// hold exactly also gives `nil`: the rest of the range is then one last slice, so every row is still
  /// read exactly once.
  private func key(from statement: SQLiteStatement, with values: [SQLValue]) throws(SQLiteError) -> SQLValue?
  {
    defer { statement.reset() }
    try statement.bind(values)
    guard try statement.step(), let text = statement.exactText(at: 0) else { return nil }
    return .text(text)
  }
}
