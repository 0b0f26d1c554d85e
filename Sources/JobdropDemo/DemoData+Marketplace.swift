import JobdropModel
import JobdropSystem

/// The seller back-office tables behind the fifteen Eshopbox job types, filled in proportion to the
/// number of orders from the same deterministic generator.
extension DemoData {
  static let channels = ["AMAZON", "FLIPKART", "MYNTRA", "AJIO", "SHOPIFY"]
  static let portals = ["amazon.in", "flipkart.com", "myntra.com", "ajio.com", "shop.example.com"]
  static let warehouses = ["BLR-01", "DEL-02", "MUM-03", "HYD-04"]
  static let brands = ["Acme", "Northwind", "Contoso", "Globex", "Initech"]
  static let verticals = ["apparel", "footwear", "accessories", "home", "beauty"]
  static let paymentMethods = ["COD", "PREPAID"]
  static let returnStatuses = ["CREATED", "APPROVED", "RECEIVED", "REFUNDED", "REJECTED"]

  static let marketplaceSchema = """
    CREATE TABLE products (sku TEXT PRIMARY KEY, ean TEXT, style_code TEXT, brand TEXT, vertical TEXT, title TEXT,
      mrp INTEGER, combo TEXT, quantity_available INTEGER, availability TEXT, created_at TEXT, updated_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE channel_listings (listing_id TEXT, channel TEXT, portal_name TEXT, sku TEXT, ean TEXT,
      style_code TEXT, brand TEXT, vertical TEXT, title TEXT, mrp INTEGER, selling_price INTEGER, status TEXT,
      created_at TEXT, updated_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE wholesale_inventory (sku TEXT, ean TEXT, style_code TEXT, brand TEXT, vertical TEXT,
      warehouse_name TEXT, channel TEXT, quantity_available INTEGER, quantity_reserved INTEGER,
      quantity_inbound INTEGER, updated_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE fee_rules (rule_id TEXT, fee_name TEXT, channel TEXT, portal_name TEXT, vertical TEXT, brand TEXT,
      min_price INTEGER, max_price INTEGER, fee_type TEXT, fee_value INTEGER, valid_from TEXT, valid_to TEXT,
      created_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE grn_items (grn_number TEXT, consignment_number TEXT, warehouse_name TEXT, sku TEXT, ean TEXT,
      style_code TEXT, brand TEXT, vertical TEXT, quantity_expected INTEGER, quantity_received INTEGER,
      unit_cost INTEGER, created_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE order_return_items (return_id TEXT, order_item_id TEXT, customer_order_number TEXT, channel TEXT,
      portal_name TEXT, warehouse_name TEXT, sku TEXT, ean TEXT, style_code TEXT, brand TEXT, vertical TEXT,
      payment_method TEXT, status TEXT, return_reason TEXT, refund_amount INTEGER, created_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE rejected_grn_items (grn_number TEXT, consignment_number TEXT, warehouse_name TEXT, sku TEXT,
      ean TEXT, style_code TEXT, brand TEXT, vertical TEXT, quantity_rejected INTEGER, rejection_reason TEXT,
      created_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE gatepass_items (gatepass_number TEXT, recall_consignment_number TEXT, warehouse_name TEXT,
      sku TEXT, ean TEXT, style_code TEXT, brand TEXT, vertical TEXT, quantity INTEGER, status TEXT, created_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE reconciled_payouts (settlement_id TEXT, order_item_id TEXT, customer_order_number TEXT,
      channel TEXT, portal_name TEXT, sku TEXT, payment_method TEXT, order_amount INTEGER, fees INTEGER,
      tax INTEGER, settled_amount INTEGER, expected_amount INTEGER, difference INTEGER, status TEXT,
      settlement_date TEXT,
      store TEXT NOT NULL);
    CREATE TABLE payout_reports (settlement_id TEXT, order_item_id TEXT, customer_order_number TEXT, channel TEXT,
      portal_name TEXT, sku TEXT, payment_method TEXT, order_amount INTEGER, fees INTEGER, tax INTEGER,
      settled_amount INTEGER, settlement_date TEXT,
      store TEXT NOT NULL);
    CREATE TABLE fee_returns (fee_return_id TEXT, order_item_id TEXT, customer_order_number TEXT, channel TEXT,
      portal_name TEXT, sku TEXT, fee_name TEXT, amount INTEGER, created_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE statements (statement_id TEXT, channel TEXT, portal_name TEXT, period_start TEXT, period_end TEXT,
      opening_balance INTEGER, sales INTEGER, fees INTEGER, refunds INTEGER, closing_balance INTEGER,
      created_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE previous_payments (payment_id TEXT, channel TEXT, portal_name TEXT, utr_number TEXT,
      statement_id TEXT, amount INTEGER, paid_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE invoice_events (invoice_number TEXT, event_type TEXT, order_item_id TEXT,
      customer_order_number TEXT, channel TEXT, portal_name TEXT, sku TEXT, payment_method TEXT, amount INTEGER,
      tax INTEGER, created_at TEXT,
      store TEXT NOT NULL);
    CREATE TABLE expense_events (expense_id TEXT, vendor TEXT, channel TEXT, category TEXT, amount INTEGER,
      tax INTEGER, status TEXT, created_at TEXT,
      store TEXT NOT NULL);
    """

  /// The product columns (sku, ean, style_code, brand, vertical) of SKU number `index`.
  static func product(_ index: Int) -> [SQLValue] {
    [
      .text(sku(index)), .text("890" + zeroPadded(index &* 7_919 % 10_000_000_000, 10)),
      .text("STY-" + zeroPadded(index / 5, 4)), .text(brands[index % brands.count]),
      .text(verticals[index / 3 % verticals.count]),
    ]
  }

  func fillMarketplace(_ database: any DemoWriter, random: inout SplitMix64) throws {
    let n = orders
    let start = Timestamp.parse("2019-01-01")!.time.seconds
    let span = Timestamp.parse("2026-01-01")!.time.seconds - start
    func time(_ index: Int, _ count: Int, _ random: inout SplitMix64) -> SQLValue {
      .text(
        Timestamp(
          seconds: start + Int64(index) * span / Int64(max(count, 1)) + Int64(random.next(upTo: 3_600))
        ).rfc3339)
    }
    func pick<T>(_ values: [T], _ random: inout SplitMix64) -> T {
      values[Int(random.next(upTo: UInt64(values.count)))]
    }
    func orderNumber(_ random: inout SplitMix64) -> String {
      "ORD-" + DemoData.zeroPadded(1 + Int(random.next(upTo: UInt64(max(n, 1)))), 8)
    }
    func amount(_ random: inout SplitMix64) -> Int64 { 199 + Int64(random.next(upTo: 20_000)) }

    try insert(database, "products", DemoData.skuCount, &random) { i, r in
      let quantity = Int64(r.next(upTo: 5)) == 0 ? 0 : Int64(r.next(upTo: 500))
      return DemoData.product(i) + [
        .text("\(DemoData.brands[i % 5]) \(DemoData.verticals[i / 3 % 5]) item \(i)"),
        .integer(499 + Int64(i * 37 % 9_800)),
        .text(i % 10 == 0 ? "yes" : "no"), .integer(quantity),
        .text(quantity > 0 ? "in_stock" : "out_of_stock"),
        time(i, DemoData.skuCount, &r), .text("2025-12-31T00:00:00Z"),
      ]
    }
    let listings = max(50, n / 10)
    try insert(database, "channel_listings", listings, &random) { i, r in
      let channel = i % DemoData.channels.count
      let mrp = 499 + Int64(r.next(upTo: 9_800))
      return [
        .text("LST-" + DemoData.zeroPadded(i + 1, 8)), .text(DemoData.channels[channel]),
        .text(DemoData.portals[channel]),
      ]
        + DemoData.product(Int(r.next(upTo: UInt64(DemoData.skuCount)))) + [
          .text("Listing \(i + 1)"), .integer(mrp), .integer(mrp * Int64(70 + r.next(upTo: 30)) / 100),
          .text(pick(["active", "active", "active", "inactive", "blocked"], &r)), time(i, listings, &r),
          .text("2025-12-31T00:00:00Z"),
        ]
    }
    let inventory = max(40, n / 20)
    try insert(database, "wholesale_inventory", inventory, &random) { i, r in
      DemoData.product(i % DemoData.skuCount) + [
        .text(DemoData.warehouses[i / DemoData.skuCount % DemoData.warehouses.count]), .text("AMAZON"),
        .integer(Int64(r.next(upTo: 1_000))), .integer(Int64(r.next(upTo: 50))),
        .integer(Int64(r.next(upTo: 200))),
        time(i, inventory, &r),
      ]
    }
    let rules = max(20, min(1_000, n / 50))
    try insert(database, "fee_rules", rules, &random) { i, r in
      let channel = i % DemoData.channels.count
      let percentage = r.next(upTo: 2) == 0
      let from = time(i, rules, &r)
      return [
        .text("FR-" + DemoData.zeroPadded(i + 1, 5)),
        .text(pick(["commission", "shipping", "collection", "fixed_fee"], &r)),
        .text(DemoData.channels[channel]), .text(DemoData.portals[channel]),
        .text(pick(DemoData.verticals, &r)),
        .text(pick(DemoData.brands, &r)), .integer(0), .integer(100_000),
        .text(percentage ? "percentage" : "fixed"),
        .integer(percentage ? Int64(2 + r.next(upTo: 20)) : Int64(500 + r.next(upTo: 5_000))), from,
        .text("2026-12-31T23:59:59Z"), from,
      ]
    }
    let grn = max(50, n / 5)
    try insert(database, "grn_items", grn, &random) { i, r in
      let expected = Int64(10 + r.next(upTo: 200))
      return [
        .text("GRN-" + DemoData.zeroPadded(i / 20 + 1, 7)), .text("CN-" + DemoData.zeroPadded(i / 20 + 1, 7)),
        .text(pick(DemoData.warehouses, &r)),
      ] + DemoData.product(Int(r.next(upTo: UInt64(DemoData.skuCount)))) + [
        .integer(expected), .integer(expected - Int64(r.next(upTo: 3))), .integer(amount(&r)),
        time(i, grn, &r),
      ]
    }
    let returns = max(50, n / 10)
    try insert(database, "order_return_items", returns, &random) { i, r in
      let channel = Int(r.next(upTo: UInt64(DemoData.channels.count)))
      return [
        .text("RET-" + DemoData.zeroPadded(i + 1, 8)),
        .text("OI-" + DemoData.zeroPadded(Int(r.next(upTo: 9_999_999)), 8)),
        .text(orderNumber(&r)), .text(DemoData.channels[channel]), .text(DemoData.portals[channel]),
        .text(pick(DemoData.warehouses, &r)),
      ] + DemoData.product(Int(r.next(upTo: UInt64(DemoData.skuCount)))) + [
        .text(pick(DemoData.paymentMethods, &r)), .text(pick(DemoData.returnStatuses, &r)),
        .text(pick(["size_issue", "damaged", "not_as_described", "changed_mind"], &r)), .integer(amount(&r)),
        time(i, returns, &r),
      ]
    }
    let rejected = max(20, n / 50)
    try insert(database, "rejected_grn_items", rejected, &random) { i, r in
      [
        .text("GRN-" + DemoData.zeroPadded(i / 5 + 1, 7)), .text("CN-" + DemoData.zeroPadded(i / 5 + 1, 7)),
        .text(pick(DemoData.warehouses, &r)),
      ] + DemoData.product(Int(r.next(upTo: UInt64(DemoData.skuCount)))) + [
        .integer(Int64(1 + r.next(upTo: 10))),
        .text(pick(["damaged", "wrong_item", "expired", "quality"], &r)),
        time(i, rejected, &r),
      ]
    }
    let gatepass = max(20, n / 50)
    try insert(database, "gatepass_items", gatepass, &random) { i, r in
      [
        .text("GP-" + DemoData.zeroPadded(i / 10 + 1, 7)), .text("RC-" + DemoData.zeroPadded(i / 10 + 1, 7)),
        .text(pick(DemoData.warehouses, &r)),
      ] + DemoData.product(Int(r.next(upTo: UInt64(DemoData.skuCount)))) + [
        .integer(Int64(1 + r.next(upTo: 20))), .text(pick(["packed", "dispatched"], &r)),
        time(i, gatepass, &r),
      ]
    }
    let payouts = max(50, n / 2)
    for table in ["reconciled_payouts", "payout_reports"] {
      try insert(database, table, payouts, &random) { i, r in
        let channel = Int(r.next(upTo: UInt64(DemoData.channels.count)))
        let order = amount(&r)
        let fees = order * Int64(5 + r.next(upTo: 15)) / 100
        let tax = fees * 18 / 100
        let settled = order - fees - tax - (r.next(upTo: 20) == 0 ? Int64(r.next(upTo: 500)) : 0)
        var row: [SQLValue] = [
          .text("STL-" + DemoData.zeroPadded(i / 100 + 1, 7)), .text("OI-" + DemoData.zeroPadded(i + 1, 8)),
          .text(orderNumber(&r)), .text(DemoData.channels[channel]), .text(DemoData.portals[channel]),
          .text(DemoData.sku(Int(r.next(upTo: UInt64(DemoData.skuCount))))),
          .text(pick(DemoData.paymentMethods, &r)),
          .integer(order), .integer(fees), .integer(tax), .integer(settled),
        ]
        if table == "reconciled_payouts" {
          let expected = order - fees - tax
          let difference = settled - expected
          row += [
            .integer(expected), .integer(difference),
            .text(difference == 0 ? "reconciled" : difference < 0 ? "short_paid" : "excess_paid"),
          ]
        }
        return row + [time(i, payouts, &r)]
      }
    }
    let feeReturns = max(20, n / 20)
    try insert(database, "fee_returns", feeReturns, &random) { i, r in
      let channel = Int(r.next(upTo: UInt64(DemoData.channels.count)))
      return [
        .text("FRT-" + DemoData.zeroPadded(i + 1, 8)),
        .text("OI-" + DemoData.zeroPadded(Int(r.next(upTo: 9_999_999)), 8)),
        .text(orderNumber(&r)), .text(DemoData.channels[channel]), .text(DemoData.portals[channel]),
        .text(DemoData.sku(Int(r.next(upTo: UInt64(DemoData.skuCount))))),
        .text(pick(["commission", "shipping", "collection", "fixed_fee"], &r)),
        .integer(Int64(10 + r.next(upTo: 2_000))),
        time(i, feeReturns, &r),
      ]
    }
    let months = 84
    try insert(database, "statements", DemoData.channels.count * months, &random) { i, r in
      let channel = i % DemoData.channels.count
      let month = i / DemoData.channels.count
      let periodStart = Timestamp(
        seconds: Timestamp.days(year: 2019 + Int64(month / 12), month: Int64(month % 12 + 1), day: 1) * 86_400
      )
      let opening = Int64(r.next(upTo: 1_000_000))
      let sales = Int64(r.next(upTo: 10_000_000))
      let fees = sales / 10
      let refunds = sales / 20
      return [
        .text("ST-\(DemoData.channels[channel])-" + DemoData.zeroPadded(month + 1, 3)),
        .text(DemoData.channels[channel]),
        .text(DemoData.portals[channel]), .text(periodStart.rfc3339),
        .text(periodStart.adding(seconds: 28 * 86_400).rfc3339), .integer(opening), .integer(sales),
        .integer(fees),
        .integer(refunds), .integer(opening + sales - fees - refunds),
        .text(periodStart.adding(seconds: 32 * 86_400).rfc3339),
      ]
    }
    let payments = max(20, n / 100)
    try insert(database, "previous_payments", payments, &random) { i, r in
      let channel = i % DemoData.channels.count
      return [
        .text("PAY-" + DemoData.zeroPadded(i + 1, 7)), .text(DemoData.channels[channel]),
        .text(DemoData.portals[channel]),
        .text("UTR" + DemoData.zeroPadded(Int(r.next(upTo: 1_000_000_000)), 12)),
        .text(
          "ST-\(DemoData.channels[channel])-" + DemoData.zeroPadded(min(months, i * months / payments + 1), 3)
        ),
        .integer(Int64(1_000 + r.next(upTo: 5_000_000))), time(i, payments, &r),
      ]
    }
    let invoices = max(50, n / 2)
    try insert(database, "invoice_events", invoices, &random) { i, r in
      let channel = Int(r.next(upTo: UInt64(DemoData.channels.count)))
      let value = amount(&r)
      return [
        .text("INV-" + DemoData.zeroPadded(i + 1, 9)),
        .text(r.next(upTo: 10) == 0 ? "credit_note" : "invoice"),
        .text("OI-" + DemoData.zeroPadded(i + 1, 8)), .text(orderNumber(&r)),
        .text(DemoData.channels[channel]),
        .text(DemoData.portals[channel]), .text(DemoData.sku(Int(r.next(upTo: UInt64(DemoData.skuCount))))),
        .text(pick(DemoData.paymentMethods, &r)), .integer(value), .integer(value * 18 / 118),
        time(i, invoices, &r),
      ]
    }
    let expenses = max(20, n / 20)
    try insert(database, "expense_events", expenses, &random) { i, r in
      let value = Int64(100 + r.next(upTo: 100_000))
      return [
        .text("EXP-" + DemoData.zeroPadded(i + 1, 8)),
        .text(pick(["Delhivery", "BlueDart", "Ekart", "AWS", "Packwell"], &r)),
        .text(pick(DemoData.channels, &r)),
        .text(pick(["shipping", "storage", "marketing", "commission", "packaging"], &r)),
        .integer(value), .integer(value * 18 / 100), .text(pick(["open", "paid"], &r)), time(i, expenses, &r),
      ]
    }
  }

  /// Inserts `count` rows made by `row` into `table`.
  private func insert(
    _ writer: any DemoWriter, _ table: String, _ count: Int, _ random: inout SplitMix64,
    row: (Int, inout SplitMix64) -> [SQLValue]
  ) throws {
    try writer.insert(table: table, columns: nil) { emit in
      for index in 0..<count { try emit(row(index, &random)) }
    }
  }
}
