import JobdropExport
import JobdropModel
import JobdropPostgres
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Creates the reference commerce schema with deterministic sample data: the same `orders` count gives
/// the same rows, byte for byte, on every run. `orders` and `order_items` serve `order_export`; the
/// seller back-office tables (see `DemoData+Marketplace.swift`) serve the fifteen Eshopbox job types.
///
/// Orders are spread over 2021-01-01 to 2025-12-31 in creation order, as a growing store takes them (the
/// rate rises with the square of time, so 2025 holds about half of all orders; six in ten are paid), with
/// every status, payment and shipping value, several currencies, and names that exercise CSV quoting and
/// the formula guard.
public struct DemoData: Sendable {
  /// How many orders to create.
  public var orders: Int

  public init(orders: Int) { self.orders = orders }

  /// The reference schema.
  public static let schema = """
    CREATE TABLE orders (
      id TEXT PRIMARY KEY NOT NULL,
      order_number TEXT NOT NULL,
      external_ref TEXT,
      status TEXT NOT NULL,
      payment TEXT NOT NULL,
      shipping TEXT NOT NULL,
      customer_id TEXT NOT NULL,
      name TEXT NOT NULL,
      email TEXT NOT NULL,
      currency TEXT NOT NULL,
      with_tax INTEGER NOT NULL,
      without_tax INTEGER NOT NULL,
      tax INTEGER NOT NULL,
      item_count INTEGER NOT NULL,
      shipping_postcode TEXT,
      billing_postcode TEXT,
      shipping_country TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      store TEXT NOT NULL
    );
    CREATE TABLE order_items (
      id INTEGER PRIMARY KEY,
      order_id TEXT NOT NULL,
      product_sku TEXT NOT NULL,
      quantity INTEGER NOT NULL,
      unit_price INTEGER NOT NULL
    );
    """

  /// Indexes, created after the data is loaded.
  public static let indexes = """
    CREATE INDEX orders_created_at ON orders (created_at);
    CREATE INDEX order_items_order_id ON order_items (order_id);
    CREATE INDEX order_items_product_sku ON order_items (product_sku);
    """

  public static let statuses = ["incomplete", "complete", "processing", "cancelled"]
  public static let payments = ["unpaid", "authorized", "paid", "refunded"]

  /// The payment state at `percentile` (0..<100): 10 % unpaid, 20 % authorized, 60 % paid, 10 % refunded.
  static func payment(percentile: Int) -> String {
    switch percentile {
    case ..<10: payments[0]
    case ..<30: payments[1]
    case ..<90: payments[2]
    default: payments[3]
    }
  }
  public static let currencies = ["USD", "EUR", "GBP", "INR"]
  static let countries = ["US", "GB", "DE", "FR", "IN", "NL", "ES", "IT"]
  static let firstNames = [
    "Ron", "Leslie", "Ann", "April", "Andy", "Tom", "Donna", "Ben", "Chris", "Jerry", "Garry", "Mona",
    "Lisa", "Omar", "Priya", "Zoë", "José", "Mei",
  ]
  static let lastNames = [
    "Swanson", "Knope", "Perkins", "Ludgate", "Dwyer", "Haverford", "Meagle", "Wyatt", "Traeger",
    "Gergich", "Saperstein", "Müller", "O'Brien", "García", "Chen", "Okafor",
  ]
  /// Customer names that a CSV writer must quote or guard.
  static let trickyNames = [
    "Pat, O'Brien", "\"Ace\" Ventures", "=HYPERLINK(\"http://example.com\")", "-Minus Corp", "+Plus Ltd",
    "@handle", "Line\nBreak Inc",
  ]

  /// The SKUs order lines use.
  public static func sku(_ index: Int) -> String { "SKU-" + zeroPadded(index, 5) }
  static let skuCount = 500

  /// Every table the demo schema creates.
  public static let tables = [
    "orders", "order_items", "products", "channel_listings", "wholesale_inventory", "fee_rules", "grn_items",
    "order_return_items", "rejected_grn_items", "gatepass_items", "reconciled_payouts", "payout_reports",
    "fee_returns", "statements", "previous_payments", "invoice_events", "expense_events",
  ]

  /// The stores (sales channels of one merchant) rows belong to: every table but `order_items` (a line
  /// belongs to its order's store) has a `store` column, and every job type a `store` field, so that a
  /// partner can be scoped to its stores on every job type (`"*": "in(store,store-1,store-2)"`).
  public static let stores = ["store-1", "store-2", "store-3", "store-4"]

  /// The store of the `row`th row of a table (0-based): the stores in turn.
  static func store(row: Int) -> String { stores[row % stores.count] }

  /// Writes a new SQLite database at `path` (replacing any file there once complete).
  public func generate(at path: String) throws {
    let temporary = path + ".tmp-\(getpid())"
    unlink(temporary)
    do {
      let database = try SQLiteDatabase(path: temporary, writable: true, create: true)
      try database.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 8192")
      let writer = SQLiteDemoWriter(database: database)
      try database.execute(DemoData.schema)
      try database.execute(DemoData.marketplaceSchema)
      try database.execute("BEGIN")
      try fill(writer)
      try database.execute("COMMIT")
      try database.execute(DemoData.indexes)
      try database.execute("ANALYZE")
    } catch {
      unlink(temporary)
      throw error
    }
    guard rename(temporary, path) == 0 else {
      let code = errno
      unlink(temporary)
      throw FileSystemError(operation: "rename", path: "\(temporary) -> \(path)", errno: code)
    }
  }

  /// Creates the same schema and rows in PostgreSQL, replacing the demo tables in one transaction.
  public func generate(postgres conninfo: String, displayName: String) throws {
    let database =
      displayName.hasPrefix("postgres://") ? String(displayName.dropFirst("postgres://".count)) : displayName
    let connection = try PostgresConnection(conninfo: conninfo, database: database)
    try connection.execute("SET client_min_messages = warning")
    try connection.execute("BEGIN")
    try connection.execute("DROP TABLE IF EXISTS " + DemoData.tables.joined(separator: ", ") + " CASCADE")
    for statement in (DemoData.schema + DemoData.marketplaceSchema).split(separator: ";") {
      let ddl = statement.trimming { $0 == " " || $0 == "\n" }
      guard !ddl.isEmpty else { continue }
      try connection.execute(
        ddl.replacingAll("INTEGER PRIMARY KEY", with: "BIGSERIAL PRIMARY KEY").replacingAll(
          " INTEGER", with: " BIGINT"))
    }
    try fill(PostgresDemoWriter(connection: connection))
    for statement in DemoData.indexes.split(separator: ";")
    where !statement.trimming(while: { $0 == " " || $0 == "\n" }).isEmpty {
      try connection.execute(statement.trimming { $0 == " " || $0 == "\n" })
    }
    try connection.execute("COMMIT")
    try connection.execute("ANALYZE")
  }

  private func fill(_ base: any DemoWriter) throws {
    let writer = StoreColumnWriter(base: base)
    try writer.insert(table: "orders", columns: nil) { emit in
      try withoutActuallyEscaping(emit) { try generateOrders(orders: $0, items: nil) }
    }
    try writer.insert(table: "order_items", columns: ["order_id", "product_sku", "quantity", "unit_price"]) {
      emit in
      try withoutActuallyEscaping(emit) { try generateOrders(orders: nil, items: $0) }
    }
    var random = SplitMix64(seed: 0x6A6F_6264_726F_7002)
    try fillMarketplace(writer, random: &random)
  }

  /// Generates the orders and their lines from one seeded sequence; either side may be skipped, and the
  /// rows are the same whichever is asked for.
  private func generateOrders(
    orders emitOrder: (([SQLValue]) throws -> Void)?, items emitItem: (([SQLValue]) throws -> Void)?
  )
    throws
  {
    var random = SplitMix64(seed: 0x6A6F_6264_726F_7001)
    let start = Timestamp.parse("2021-01-01")!.time.seconds
    let end = Timestamp.parse("2026-01-01")!.time.seconds
    let span = end - start
    let customers = max(1, orders / 4)
    for index in 0..<orders {
      let share = cbrt((Double(index) + 0.5) / Double(orders))
      let created = min(start + Int64(Double(span) * share) + Int64(random.next(upTo: 30)), end - 1)
      let updated = min(created + Int64(random.next(upTo: 30 * 86_400)), end + 30 * 86_400)
      let customer = Int(random.next(upTo: UInt64(customers)))
      let lines = 1 + Int(random.next(upTo: 4))
      var subtotal: Int64 = 0
      let orderID = random.uuid()
      for _ in 0..<lines {
        let sku = Int(random.next(upTo: UInt64(DemoData.skuCount)))
        let quantity = 1 + Int64(random.next(upTo: 3))
        let price = 199 + Int64(sku * 37 % 9_800)
        subtotal += quantity * price
        try emitItem?([.text(orderID), .text(DemoData.sku(sku)), .integer(quantity), .integer(price)])
      }
      let tax = subtotal / 5
      let status = DemoData.statuses[Int(random.next(upTo: 10)) % 4 == 0 ? Int(random.next(upTo: 4)) : 1]
      let payment = DemoData.payment(percentile: Int(random.next(upTo: 100)))
      let externalRef: SQLValue =
        random.next(upTo: 3) == 0
        ? .null : .text("EXT-" + DemoData.zeroPadded(Int(random.next(upTo: 1_000_000)), 6))
      let shipping = random.next(upTo: 2) == 0 ? "fulfilled" : "unfulfilled"
      let shippingPostcode = DemoData.zeroPadded(Int(random.next(upTo: 99_999)), 5)
      let billingPostcode = DemoData.zeroPadded(Int(random.next(upTo: 99_999)), 5)
      guard let emitOrder else { continue }
      try emitOrder([
        .text(orderID), .text("ORD-" + DemoData.zeroPadded(index + 1, 8)), externalRef, .text(status),
        .text(payment),
        .text(shipping), .text(DemoData.customerID(customer)), .text(DemoData.customerName(customer)),
        .text(DemoData.customerEmail(customer)),
        .text(DemoData.currencies[customer % DemoData.currencies.count]),
        .integer(subtotal + tax), .integer(subtotal), .integer(tax), .integer(Int64(lines)),
        .text(shippingPostcode),
        .text(billingPostcode), .text(DemoData.countries[customer % DemoData.countries.count]),
        .text(Timestamp(seconds: created).rfc3339), .text(Timestamp(seconds: updated).rfc3339),
      ])
    }
  }

  static func customerName(_ customer: Int) -> String {
    if customer % 97 == 13 { return trickyNames[customer / 97 % trickyNames.count] }
    return firstNames[customer % firstNames.count] + " "
      + lastNames[customer / firstNames.count % lastNames.count]
  }

  static func customerEmail(_ customer: Int) -> String {
    let first = firstNames[customer % firstNames.count].lowercased()
    return "\(first).\(customer)@example.com"
  }

  static func customerID(_ customer: Int) -> String {
    var random = SplitMix64(seed: 0xC057_0000 &+ UInt64(customer))
    return random.uuid()
  }

  static func zeroPadded(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
  }
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same sequence everywhere.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  mutating func next(upTo bound: UInt64) -> UInt64 { next() % bound }

  /// A UUID v4-shaped lowercase id.
  mutating func uuid() -> String {
    let high = next()
    let low = next()
    let hex = Array("0123456789abcdef".utf8)
    var text = [UInt8]()
    text.reserveCapacity(36)
    for index in 0..<32 {
      var nibble = Int((index < 16 ? high >> (60 - 4 * index) : low >> (60 - 4 * (index - 16))) & 0xF)
      if index == 12 { nibble = 4 }
      if index == 16 { nibble = 8 | (nibble & 3) }
      if index == 8 || index == 12 || index == 16 || index == 20 { text.append(0x2D) }
      text.append(hex[nibble])
    }
    return String(decoding: text, as: UTF8.self)
  }
}

/// Adds the `store` column, last, to the rows of every table that has one (all but `order_items`).
struct StoreColumnWriter: DemoWriter {
  let base: any DemoWriter

  func insert(table: String, columns: [String]?, _ produce: ((([SQLValue]) throws -> Void)) throws -> Void)
    throws
  {
    guard table != "order_items" else { return try base.insert(table: table, columns: columns, produce) }
    try base.insert(table: table, columns: columns.map { $0 + ["store"] }) { emit in
      try withoutActuallyEscaping(emit) { emit in
        var row = 0
        try produce { values in
          try emit(values + [.text(DemoData.store(row: row))])
          row += 1
        }
      }
    }
  }
}

/// Where demo rows go: a SQLite file or a PostgreSQL database.
protocol DemoWriter {
  /// Inserts the rows `produce` emits into `table` (all columns in order, or `columns`).
  func insert(table: String, columns: [String]?, _ produce: ((([SQLValue]) throws -> Void)) throws -> Void)
    throws
}

struct SQLiteDemoWriter: DemoWriter {
  let database: SQLiteDatabase

  func insert(table: String, columns: [String]?, _ produce: ((([SQLValue]) throws -> Void)) throws -> Void)
    throws
  {
    var statement: SQLiteStatement?
    try produce { row in
      if statement == nil {
        let names = columns.map { " (" + $0.joined(separator: ", ") + ")" } ?? ""
        statement = try database.prepare(
          "INSERT INTO \(table)\(names) VALUES (\(Array(repeating: "?", count: row.count).joined(separator: ", ")))"
        )
      }
      try statement!.run(row)
    }
  }
}

struct PostgresDemoWriter: DemoWriter {
  let connection: PostgresConnection

  func insert(table: String, columns: [String]?, _ produce: ((([SQLValue]) throws -> Void)) throws -> Void)
    throws
  {
    let names = columns.map { " (" + $0.joined(separator: ", ") + ")" } ?? ""
    try connection.copyIn("COPY \(table)\(names) FROM STDIN", rows: produce)
  }
}

extension StringProtocol {
  func replacingAll(_ target: String, with replacement: String) -> String {
    var result = ""
    var rest = Substring(self)
    while let range = rest.firstRange(of: target) {
      result += rest[..<range.lowerBound] + replacement
      rest = rest[range.upperBound...]
    }
    return result + rest
  }
}
