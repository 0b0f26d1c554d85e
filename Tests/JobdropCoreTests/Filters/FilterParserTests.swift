import Testing

@testable import JobdropModel

@Suite(.timeLimit(.minutes(10))) struct FilterParserTests {
  @Test(arguments: [
    ("eq(status,complete)", [["eq", "status", "complete"]]),
    (
      "gt(created_at,2018-09-01):lt(created_at,2018-10-01):eq(payment,refunded)",
      [
        ["gt", "created_at", "2018-09-01"], ["lt", "created_at", "2018-10-01"],
        ["eq", "payment", "refunded"],
      ]
    ),
    ("in(status,complete,processing)", [["in", "status", "complete", "processing"]]),
    ("is_null(external_ref)", [["is_null", "external_ref"]]),
    ("eq(name,Ron Swanson)", [["eq", "name", "Ron Swanson"]]),
    ("eq(name, Ron Swanson )", [["eq", "name", "Ron Swanson"]]),
    ("eq(email,\"ron@swanson.com\")", [["eq", "email", "ron@swanson.com"]]),
    ("eq(name,'O\\'Brien, Pat')", [["eq", "name", "O'Brien, Pat"]]),
    ("eq(name,\"say \\\"hi\\\" \\\\ bye\")", [["eq", "name", "say \"hi\" \\ bye"]]),
    ("like(email,\"*@example.com\")", [["like", "email", "*@example.com"]]),
    ("eq(with_tax,$-1.5_*)", [["eq", "with_tax", "$-1.5_*"]]),
    ("", []),
    ("   ", []),
  ])
  func parsesValidFilters(text: String, expected: [[String]]) throws {
    let expression = try FilterParser.parse(text)
    let clauses = expression.clauses.map { [$0.operatorName, $0.field] + $0.values.map(\.text) }
    #expect(clauses == expected)
  }

  @Test(arguments: [
    ("eq(status,complete", "filter: missing ')' to close 'eq(' opened at 1"),
    ("eq(status", "filter: missing ')' to close 'eq(' opened at 1"),
    ("eq status", "filter: unexpected 's', expected '(' after 'eq' at 4"),
    ("eq(status,complete);eq(payment,paid)", "filter: unexpected ';', expected ':' between clauses at 20"),
    ("eq(status,complete):", "filter: expected a clause after ':' at 21"),
    ("eq(email,ron@swanson.com)", "filter: unexpected '@', expected ',' or ')' at 13"),
    (
      "eq(email,@x)",
      "filter: unexpected character '@' at 10 (bare values take A-Z a-z 0-9 $ - _ * . and space; quote others with \" or ')"
    ),
    ("eq(name,\"Ron)", "filter: unterminated quoted value at 9 (close it with \")"),
    ("eq(status,)", "filter: empty value at 11"),
    ("(status,x)", "filter: unexpected '(', expected an operator such as eq( at 1"),
    ("eq(,x)", "filter: unexpected ',', expected a field name at 4"),
  ])
  func rejectsBadSyntaxWithPosition(text: String, message: String) {
    #expect(throws: FilterError.self) { try FilterParser.parse(text) }
    do {
      _ = try FilterParser.parse(text)
    } catch {
      #expect(error.description == message)
    }
  }

  @Test func allowsTenClausesButNotEleven() throws {
    let ten = Array(repeating: "eq(status,complete)", count: 10).joined(separator: ":")
    #expect(try FilterParser.parse(ten).clauses.count == 10)
    #expect(throws: FilterError("too many clauses", at: 201, hint: "at most 10")) {
      try FilterParser.parse(ten + ":eq(status,complete)")
    }
  }
}
