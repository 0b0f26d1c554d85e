import JobdropModel

/// The one query an export runs: chosen columns of a job type's source, narrowed by a compiled filter.
public struct ExportQuery: Sendable, Equatable {
  public var jobType: JobType
  /// The columns to write, in order.
  public var columns: [Column]
  public var condition: SQLCondition

  public var dialect: SQLDialect

  /// Builds the query for `request`, ANDed with `scope` (a partner's filter for this job type, compiled
  /// on its own so that its clauses do not count against the request's); throws what
  /// ``RequestParser/validate(_:)`` would.
  ///
  /// `window`: a standing request's run window, a filter compiled on its own as well.
  public init(
    jobType: JobType, request: ExportRequest, scope: String? = nil, window: String? = nil,
    dialect: SQLDialect = .sqlite
  ) throws(RequestError) {
    self.jobType = jobType
    self.dialect = dialect
    if let names = request.columns {
      var columns: [Column] = []
      for name in names {
        guard let column = jobType.column(named: name) else {
          throw RequestError("columns: unknown column '\(name)'")
        }
        columns.append(column)
      }
      self.columns = columns
    } else {
      self.columns = jobType.columns
    }
    let compiler = FilterCompiler(jobType: jobType, dialect: dialect)
    do {
      condition = try compiler.compile(request.filter)
    } catch {
      throw RequestError(error.description)
    }
    if let scope {
      do {
        condition = try compiler.compile(scope).and(condition)
      } catch {
        throw RequestError("the partner's scope: \(error.description)")
      }
    }
    if let window {
      do {
        condition = try compiler.compile(window).and(condition)
      } catch {
        throw RequestError("the run's window: \(error.description)")
      }
    }
  }

  /// The SQL text, with placeholders as the dialect writes them.
  public var sql: String {
    var sql = "SELECT \(selectList) FROM \(jobType.source) WHERE \(condition.sql)"
    // PostgreSQL may turn a related-field EXISTS into a join that emits rows out of table order.
    if dialect == .postgres, let order = jobType.orderBy, condition.sql.contains("EXISTS (") {
      sql += " ORDER BY \(order)"
    }
    return dialect.placeholders(sql)
  }

  /// The same query over one slice of a SQLite table: reading `source` (the table with `NOT INDEXED` or
  /// `INDEXED BY`) within `bounds`, whose placeholders come before those of `condition` (by default the
  /// query's own).
  func sql(reading source: String, within bounds: String, where condition: SQLCondition? = nil) -> String {
    "SELECT \(selectList) FROM \(source) WHERE \(bounds) AND (\((condition ?? self.condition).sql))"
  }

  private var selectList: String {
    columns.map { $0.sql == $0.name ? $0.name : "\($0.sql) AS \($0.name)" }.joined(separator: ", ")
  }
}
