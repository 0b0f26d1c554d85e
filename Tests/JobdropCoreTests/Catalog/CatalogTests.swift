import Testing

@testable import JobdropModel

@Suite(.timeLimit(.minutes(10))) struct CatalogTests {
  @Test func theBuiltInCatalogHasAllSixteenJobTypes() {
    #expect(
      Catalog.builtIn.names == [
        "order_export", "get_listing", "get_inventory", "fee_rule", "grn_items", "order_return",
        "rejected_grn_items",
        "gatepass_items", "activity_payment_report", "payment_report", "fee_return", "statement",
        "previous_payment",
        "invoice_event", "expense_event", "product",
      ])
  }

  @Test func roundTripsThroughItsOwnFileFormat() throws {
    let json = try Catalog.builtIn.json()
    let again = try Catalog.decode(Array(json.utf8), origin: "x")
    #expect(again.jobTypes == Catalog.builtIn.jobTypes)
  }

  static let valid = #"""
    {"job_types": [{"name": "refunds", "summary": "s", "source": "refunds",
      "columns": [{"name": "id", "type": "text"}, {"name": "amount", "type": "money"}],
      "fields": [{"name": "reason", "type": "enum", "operators": ["eq"], "values": ["a"]}]}]}
    """#

  @Test(arguments: [
    (
      "{",
      "shop.json: not valid JSON: unexpected end of input, expected a member name in quotes at line 1, column 2"
    ),
    (#"{"job_types": []}"#, "shop.json: job_types: declare at least one job type"),
    (#"{"types": []}"#, "shop.json: missing \"job_types\""),
    (
      valid.replacingOccurrences(of: #""type": "money""#, with: #""type": "cash""#),
      "shop.json: job_types[0].columns[1].type: Cannot initialize FieldType from invalid String value cash"
    ),
    (
      valid.replacingOccurrences(of: #""name": "refunds""#, with: #""name": "Refunds!""#),
      "shop.json: job_types[0]: name 'Refunds!' must be lowercase letters, digits and _"
    ),
    (
      valid.replacingOccurrences(of: #""name": "amount""#, with: #""name": "id""#),
      "shop.json: job type 'refunds': columns[1]: 'id' is declared twice"
    ),
    (
      valid.replacingOccurrences(of: #", "values": ["a"]"#, with: ""),
      "shop.json: job type 'refunds': fields[0] 'reason': enum fields need \"values\""
    ),
    (
      valid.replacingOccurrences(of: #""operators": ["eq"]"#, with: #""operators": ["gt"]"#),
      "shop.json: job type 'refunds': fields[0] 'reason': operator 'gt' does not apply to enum fields (allowed: eq, in, is_null)"
    ),
    (
      valid.replacingOccurrences(
        of: #"["a"]}]"#, with: #"["a"]}], "eshopbox": {"brand": {"field": "brand"}}"#),
      "shop.json: job type 'refunds': eshopbox.brand: no field 'brand' (fields: reason)"
    ),
    (
      valid.replacingOccurrences(of: #""source": "refunds""#, with: #""source": """#),
      "shop.json: job type 'refunds': source: name a table, a view or a (SELECT …) AS alias"
    ),
  ])
  func refusesBadCatalogsWithPointedErrors(text: String, message: String) {
    #expect(throws: CatalogError(origin: "shop.json", String(message.dropFirst("shop.json: ".count)))) {
      try Catalog.decode(Array(text.utf8), origin: "shop.json")
    }
  }

  @Test func acceptsAValidCatalog() throws {
    let catalog = try Catalog.decode(Array(CatalogTests.valid.utf8), origin: "shop.json")
    #expect(catalog.names == ["refunds"])
  }
}
