import Testing

@testable import JobdropModel

@Suite(.timeLimit(.minutes(10))) struct RequestParserTests {
  let parser = RequestParser(catalog: .builtIn)

  @Test func parsesTheElasticPathExample() throws {
    let text = """
      {"data": {"type": "job", "job_type": "order_export",
                "filter": "gt(created_at,2018-09-01):lt(created_at,2018-10-01):eq(payment,refunded)",
                "reference": "batch-7", "columns": ["id", "with_tax"], "format": "csv"}}
      """
    let request = try parser.parse(Array(text.utf8))
    #expect(
      request
        == ExportRequest(
          dialect: .elasticPath, jobType: "order_export",
          filter: "gt(created_at,2018-09-01):lt(created_at,2018-10-01):eq(payment,refunded)",
          reference: "batch-7", columns: ["id", "with_tax"], format: .csv))
  }

  @Test(arguments: [
    ("", "request is not valid JSON: empty document at line 1, column 1", true),
    (
      "{\"data\": {\"type\": \"job\"",
      "request is not valid JSON: unexpected end of input, expected ',' or '}' at line 1, column 24", true
    ),
    (
      "{\"data\": {\"type\": \"jo",
      "request is not valid JSON: unexpected end of input inside a string at line 1, column 22", true
    ),
    ("[1, 2]", "request: expected a JSON object, found an array", false),
    ("\"job\"", "request: expected a JSON object, found a string", false),
    (
      "{}",
      "request: expected \"data\" (Elastic Path: {\"data\": {\"type\": \"job\", \"job_type\": …}}) or \"jobType\" (Eshopbox)",
      false
    ),
    ("{\"data\": []}", "data: expected an object, found an array", false),
    ("{\"data\": {\"job_type\": \"order_export\"}}", "data.type: missing; it must be \"job\"", false),
    ("{\"data\": {\"type\": \"file\", \"job_type\": \"order_export\"}}", "data.type: must be \"job\"", false),
    ("{\"data\": {\"type\": \"job\"}}", "data.job_type: missing", false),
    (
      "{\"data\": {\"type\": \"job\", \"job_type\": 7}}", "data.job_type: expected a string, found a number",
      false
    ),
    (
      "{\"data\": {\"type\": \"job\", \"job_type\": \"orders\"}}",
      "data.job_type: unknown job type 'orders' (job types: \(Catalog.builtIn.names.joined(separator: ", ")))",
      false
    ),
    (
      "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\", \"filter\": \"eq(colour,red)\"}}",
      "filter: unknown field 'colour' at 4 (fields: store, status, payment, shipping, currency, product_sku, name, email, customer_id, order_number, external_ref, with_tax, without_tax, created_at, updated_at)",
      false
    ),
    (
      "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\", \"columns\": [\"id\", \"colour\"]}}",
      "data.columns: unknown column 'colour' (columns: id, order_number, external_ref, status, payment, shipping, customer_id, name, email, currency, with_tax, without_tax, tax, item_count, shipping_postcode, billing_postcode, shipping_country, created_at, updated_at)",
      false
    ),
    (
      "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\", \"columns\": \"id\"}}",
      "data.columns: expected an array of column names, found a string", false
    ),
    (
      "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\", \"columns\": []}}",
      "data.columns: name at least one column", false
    ),
    (
      "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\", \"columns\": [\"id\", \"id\"]}}",
      "data.columns: 'id' is named twice", false
    ),
    (
      "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\", \"format\": \"xls\"}}",
      "data.format: unknown format 'xls' (formats: csv, csv.gz, jsonl, jsonl.gz, csv.zst, jsonl.zst, xlsx, parquet)",
      false
    ),
    (
      "{\"data\": 1, \"data\": 2}", "request is not valid JSON: duplicate key \"data\" at line 1, column 13",
      false
    ),
    (
      #"{"data": {"type": "job", "job_type": "order_export", "split": 1000}}"#,
      #"data.split: expected {"rows": N} or {"bytes": "1GiB"}, found a number"#, false
    ),
    (
      #"{"data": {"type": "job", "job_type": "order_export", "split": {"rows": 999}}}"#,
      "data.split.rows: 999 is out of range (1,000 to 10,000,000)", false
    ),
    (
      #"{"data": {"type": "job", "job_type": "order_export", "split": {"bytes": "100KiB"}}}"#,
      "data.split.bytes: '100KiB' is out of range (1MiB to 5GiB)", false
    ),
    (
      #"{"data": {"type": "job", "job_type": "order_export", "split": {"bytes": "a lot"}}}"#,
      "data.split.bytes: 'a lot' is not a size (write 64MiB, 1GiB or a number of bytes)", false
    ),
    (
      #"{"data": {"type": "job", "job_type": "order_export", "split": {"parts": 4}}}"#,
      #"data.split: expected {"rows": N} or {"bytes": "1GiB"}, found the key 'parts'"#, false
    ),
    (
      #"{"data": {"type": "job", "job_type": "order_export", "split": {"rows": "many"}}}"#,
      "data.split.rows: expected a number, found a string", false
    ),
  ])
  func explainsWhatIsWrong(text: String, message: String, truncated: Bool) {
    do {
      _ = try parser.parse(Array(text.utf8))
      Issue.record("expected an error")
    } catch {
      #expect(error.message == message)
      #expect(error.isTruncated == truncated)
    }
  }

  @Test func splitTakesRowsOrASize() throws {
    for (text, split) in [
      (#""split": {"rows": 1000000}"#, ExportRequest.Split.rows(1_000_000)),
      (#""split": {"bytes": "1GiB"}"#, .bytes(1 << 30)), (#""split": {"bytes": "64 MiB"}"#, .bytes(64 << 20)),
      (#""split": {"bytes": 5368709120}"#, .bytes(5 << 30)),
    ] {
      let request = try parser.parse(
        Array(#"{"data": {"type": "job", "job_type": "order_export", \#(text)}}"#.utf8))
      #expect(request.split == split, "\(text)")
    }
    let eshopbox = try parser.parse(Array(#"{"jobType": "order_return", "split": {"rows": 5000}}"#.utf8))
    #expect(eshopbox.split == .rows(5000))
  }

  @Test func refusesMoreThanOneMebibyte() {
    let padding = String(repeating: " ", count: RequestParser.maximumSize)
    let text = "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\"}}" + padding
    #expect(throws: RequestError("request is larger than 1 MiB (\(text.utf8.count) bytes or more)")) {
      try parser.parse(Array(text.utf8))
    }
  }

  @Test func refusesBinaryAndInvalidUTF8() {
    #expect(throws: RequestError.self) { try parser.parse([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]) }
    #expect(throws: RequestError.self) { try parser.parse([0x00, 0x01, 0x02, 0x89, 0x50, 0x4E, 0x47]) }
  }
}
