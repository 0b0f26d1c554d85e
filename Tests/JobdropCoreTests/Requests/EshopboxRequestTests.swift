import Testing

@testable import JobdropModel

@Suite(.timeLimit(.minutes(10))) struct EshopboxRequestTests {
  let parser = RequestParser(catalog: .builtIn)

  func parse(_ text: String) throws(RequestError) -> ExportRequest { try parser.parse(Array(text.utf8)) }

  @Test func translatesTheExampleIntoTheFilterLanguage() throws {
    let request = try parse(
      #"""
      {"jobType": "order_return", "channelId": "0", "fileType": "CSV", "userId": "70",
       "exportFilters": {"orderCreatedDateRange": "{\"start\":\"2019-12-01\",\"end\":\"2019-12-19\"}",
                         "paymentMethod": "COD", "status": "CREATED", "sku": ""}}
      """#)
    #expect(request.dialect == .eshopbox)
    #expect(request.jobType == "order_return")
    #expect(
      request.filter
        == #"ge(created_at,"2019-12-01"):le(created_at,"2019-12-19"):eq(payment_method,"COD"):eq(status,"CREATED")"#
    )
    #expect(request.eshopbox?.channelId == "0")
    #expect(request.eshopbox?.userId == "70")
    #expect(request.eshopbox?.exportFilters["sku"] == "")
  }

  @Test(arguments: [
    (#"{"brand": "Acme,Globex"}"#, #"in(brand,"Acme","Globex")"#),
    (
      #"{"skuStyleCodeEanDropdown": "ean", "skuStyleCodeEanDropdownValue": "8900000000000"}"#,
      #"eq(ean,"8900000000000")"#
    ),
    (#"{"skuStyleCodeEanDropdown": "sku", "skuStyleCodeEanDropdownValue": ""}"#, ""),
    (#"{"createdDateRange": "{}", "brand": ""}"#, ""),
    (#"{"createdDateRange": {"start": "2020-01-01"}}"#, #"ge(created_at,"2020-01-01")"#),
    (#"{"styleCode": "say \"hi\""}"#, #"eq(style_code,"say \"hi\"")"#),
  ])
  func mapsKeysOntoFields(filters: String, expected: String) throws {
    let request = try parse(#"{"jobType": "product", "fileType": "CSV", "exportFilters": \#(filters)}"#)
    #expect(request.filter == expected)
  }

  @Test(arguments: [
    (
      #"{"jobType": "products"}"#,
      "jobType: unknown job type 'products' (job types: order_export, get_listing,"
    ),
    (
      #"{"jobType": "product", "fileType": "PDF"}"#,
      "fileType: 'PDF' is not supported (file types: CSV, CSV.GZ, JSONL, JSONL.GZ, CSV.ZST, JSONL.ZST, XLSX, PARQUET)"
    ),
    (
      #"{"jobType": "product", "exportFilters": {"warehouseName": "BLR-01"}}"#,
      "exportFilters.warehouseName: not supported by product (supported: brand, combo, createdDateRange, ean, sku, styleCode, updatedDateRange, vertical, skuStyleCodeEanDropdown, skuStyleCodeEanDropdownValue)"
    ),
    (
      #"{"jobType": "product", "exportFilters": {"createdDateRange": "2020"}}"#,
      "exportFilters.createdDateRange: expected a JSON date range such as"
    ),
    (
      #"{"jobType": "product", "exportFilters": {"createdDateRange": "{\"start\":\"yesterday\"}"}}"#,
      "exportFilters.createdDateRange.start: 'yesterday' is not a date"
    ),
    (
      #"{"jobType": "product", "exportFilters": {"skuStyleCodeEanDropdownValue": "x"}}"#,
      "exportFilters.skuStyleCodeEanDropdownValue: set skuStyleCodeEanDropdown to sku, styleCode or ean"
    ),
    (#"{"jobType": "product", "exportFilters": {"combo": "maybe"}}"#, "filter: 'maybe' is not a combo"),
    (#"{"jobType": "product", "exportFilters": []}"#, "exportFilters: expected an object, found an array"),
  ])
  func explainsWhatIsWrong(text: String, prefix: String) {
    do {
      _ = try parse(text)
      Issue.record("expected an error for \(text)")
    } catch {
      #expect(error.message.hasPrefix(prefix), "\(error.message)")
    }
  }
}
