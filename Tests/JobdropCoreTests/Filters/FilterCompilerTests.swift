import Testing

@testable import JobdropModel

@Suite(.timeLimit(.minutes(10))) struct FilterCompilerTests {
  let compiler = FilterCompiler(jobType: .orderExport)

  @Test(arguments: [
    ("", "TRUE", [SQLValue]()),
    ("eq(status,complete)", "status = ?", [.text("complete")]),
    ("in(payment,paid,refunded)", "payment IN (?, ?)", [.text("paid"), .text("refunded")]),
    ("like(email,\"*@example.com\")", "jobdrop_fold(email) LIKE ? ESCAPE '\\'", [.text("%@example.com")]),
    ("like(name,Ron*)", "jobdrop_fold(name) LIKE ? ESCAPE '\\'", [.text("ron%")]),
    ("like(name,\"50%_off*\")", "jobdrop_fold(name) LIKE ? ESCAPE '\\'", [.text("50\\%\\_off%")]),
    ("is_null(external_ref)", "external_ref IS NULL", []),
    (
      "ge(with_tax,1999):lt(without_tax,-5)", "with_tax >= ? AND without_tax < ?",
      [.integer(1999), .integer(-5)]
    ),
    (
      "eq(product_sku,SKU-00001)",
      "EXISTS (SELECT 1 FROM order_items WHERE order_items.order_id = orders.id AND order_items.product_sku = ?)",
      [.text("SKU-00001")]
    ),
    // A bare date is the whole UTC day.
    (
      "eq(created_at,2018-09-01)", "created_at >= ? AND created_at < ?",
      [.text("2018-09-01T00:00:00Z"), .text("2018-09-02T00:00:00Z")]
    ),
    ("gt(created_at,2018-09-01)", "created_at >= ?", [.text("2018-09-02T00:00:00Z")]),
    ("ge(created_at,2018-09-01)", "created_at >= ?", [.text("2018-09-01T00:00:00Z")]),
    ("lt(created_at,2018-09-01)", "created_at < ?", [.text("2018-09-01T00:00:00Z")]),
    ("le(created_at,2018-09-01)", "created_at < ?", [.text("2018-09-02T00:00:00Z")]),
    // RFC 3339 with an offset, and epoch milliseconds, are instants in UTC.
    ("gt(updated_at,\"2018-09-01T02:00:00+02:00\")", "updated_at > ?", [.text("2018-09-01T00:00:00Z")]),
    ("ge(created_at,1535760000000)", "created_at >= ?", [.text("2018-09-01T00:00:00Z")]),
    ("ge(created_at,1535760000500)", "created_at > ?", [.text("2018-09-01T00:00:00Z")]),
    ("eq(created_at,1535760000500)", "FALSE", []),
    // The last representable day has no next midnight: nothing is after it, everything up to it.
    ("gt(created_at,9999-12-31)", "FALSE", []),
    ("le(created_at,9999-12-31)", "created_at IS NOT NULL", []),
    ("eq(created_at,9999-12-31)", "created_at >= ?", [.text("9999-12-31T00:00:00Z")]),
    ("le(created_at,253402300799999)", "created_at <= ?", [.text("9999-12-31T23:59:59Z")]),
  ])
  func compilesToBoundParameters(filter: String, sql: String, bindings: [SQLValue]) throws {
    let condition = try compiler.compile(filter)
    #expect(condition.sql == sql)
    #expect(condition.bindings == bindings)
  }

  @Test(arguments: [
    (
      "eq(colour,red)",
      "filter: unknown field 'colour' at 4 (fields: store, status, payment, shipping, currency, product_sku, name, email, customer_id, order_number, external_ref, with_tax, without_tax, created_at, updated_at)"
    ),
    (
      "eq(status,complete):ne(status,x)",
      "filter: unknown operator 'ne' at 21 (operators: eq, like, in, gt, ge, lt, le, is_null)"
    ),
    ("like(status,comp*)", "filter: operator 'like' does not apply to 'status' at 1 (status takes: eq, in)"),
    (
      "eq(status,shipped)",
      "filter: 'shipped' is not a status at 11 (status is one of: incomplete, complete, processing, cancelled)"
    ),
    (
      "gt(with_tax,19.99)",
      "filter: '19.99' is not a whole number (an amount in minor units, e.g. 1999 for 19.99) at 13"
    ),
    (
      "gt(created_at,yesterday)",
      "filter: 'yesterday' is not a time at 15 (use YYYY-MM-DD, RFC 3339 or epoch milliseconds, from 0000-01-01 to 9999-12-31)"
    ),
    (
      "gt(created_at,2018-02-30)",
      "filter: '2018-02-30' is not a time at 15 (use YYYY-MM-DD, RFC 3339 or epoch milliseconds, from 0000-01-01 to 9999-12-31)"
    ),
    (
      "gt(created_at,253402300800000)",
      "filter: '253402300800000' is not a time at 15 (use YYYY-MM-DD, RFC 3339 or epoch milliseconds, from 0000-01-01 to 9999-12-31)"
    ),
    (
      "lt(created_at,\"9999-12-31T23:00:00-05:00\")",
      "filter: '9999-12-31T23:00:00-05:00' is not a time at 15 (use YYYY-MM-DD, RFC 3339 or epoch milliseconds, from 0000-01-01 to 9999-12-31)"
    ),
    ("eq(status,complete,paid)", "filter: 'eq' takes exactly one value, got 2 at 1"),
    ("is_null(external_ref,x)", "filter: 'is_null' takes no value: is_null(external_ref), got 1 at 1"),
    ("in(status)", "filter: 'in' takes one or more values, got 0 at 1"),
    (
      "like(name,R*n)",
      "filter: '*' is only allowed at the start or end of a like value at 12 (e.g. like(name,Ron*) or like(email,\"*@example.com\"))"
    ),
    (
      "like(name,\"*a*b\")",
      "filter: '*' is only allowed at the start or end of a like value at 14 (e.g. like(name,Ron*) or like(email,\"*@example.com\"))"
    ),
  ])
  func rejectsWhatTheJobTypeDoesNotAllow(filter: String, message: String) {
    do {
      _ = try compiler.compile(filter)
      Issue.record("expected an error for \(filter)")
    } catch {
      #expect(error.description == message)
    }
  }

  @Test func neverSplicesValuesIntoSQL() throws {
    let hostile = "eq(name,\"x' OR 1=1; DROP TABLE orders; --\")"
    let condition = try compiler.compile(hostile)
    #expect(condition.sql == "name = ?")
    #expect(condition.bindings == [.text("x' OR 1=1; DROP TABLE orders; --")])
  }

  @Test func separatesTheIntervalOfAColumnFromTheOtherClauses() throws {
    let condition = try compiler.compile(
      "ge(created_at,2025-01-01):eq(payment,paid):lt(created_at,2026-01-01):in(status,complete,processing)")
    let interval = try #require(condition.interval(of: "created_at"))
    #expect(interval.sql == "created_at >= ? AND created_at < ?")
    #expect(interval.bindings == [.text("2025-01-01T00:00:00Z"), .text("2026-01-01T00:00:00Z")])
    let rest = condition.excludingInterval(of: "created_at")
    #expect(rest.sql == "payment = ? AND status IN (?, ?)")
    #expect(rest.bindings == [.text("paid"), .text("complete"), .text("processing")])
    #expect(condition.interval(of: "status") == nil)  // a list is not an interval
    #expect(try compiler.compile("eq(product_sku,SKU-00042)").interval(of: "product_sku") == nil)
  }
}
