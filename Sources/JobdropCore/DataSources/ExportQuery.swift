/// The one query an export runs: chosen columns of a job type's source, narrowed by a compiled filter.
public struct ExportQuery: Sendable, Equatable {
  public var jobType: JobType
  /// The columns to write, in order.
  public var columns: [Column]
  public var condition: SQLCondition

  /// Builds the query for `request`; throws what ``RequestParser/validate(_:)`` would.
  public init(jobType: JobType, request: ExportRequest) throws(RequestError) {
    self.jobType = jobType
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
    do {
      condition = try FilterCompiler(jobType: jobType).compile(request.filter)
    } catch {
      throw RequestError(error.description)
    }
  }

  /// The SQL text with `?` placeholders.
  public var sql: String {
    let list = columns.map { $0.sql == $0.name ? $0.name : "\($0.sql) AS \($0.name)" }.joined(separator: ", ")
    return "SELECT \(list) FROM \(jobType.source) WHERE \(condition.sql)"
  }
}
