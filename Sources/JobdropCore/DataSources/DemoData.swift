#if canImport(Glibc)
  import Glibc
#endif

/// Creates the reference commerce schema with deterministic sample data: the same `orders` count gives
/// the same rows, byte for byte, on every run. `orders` and `order_items` serve `order_export`; the
/// seller back-office tables (see `DemoData+Marketplace.swift`) serve the fifteen Eshopbox job types.
///
/// Orders are spread over 2019-01-01 to 2025-12-31 in creation order, with every status, payment and
/// shipping value, several currencies, and names that exercise CSV quoting and the formula guard.
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
      updated_at TEXT NOT NULL
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

  /// Writes a new database at `path` (replacing any file there once complete).
  public func generate(at path: String) throws {
    let temporary = path + ".tmp-\(getpid())"
    unlink(temporary)
    do {
      let database = try SQLiteDatabase(path: temporary, writable: true, create: true)
      try database.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 8192")
      try database.execute(DemoData.schema)
      try database.execute(DemoData.marketplaceSchema)
      try database.execute("BEGIN")
      try fill(database)
      var random = SplitMix64(seed: 0x6A6F_6264_726F_7002)
      try fillMarketplace(database, random: &random)
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

  private func fill(_ database: SQLiteDatabase) throws {
    let insertOrder = try database.prepare(
      "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    let insertItem = try database.prepare(
      "INSERT INTO order_items (order_id, product_sku, quantity, unit_price) VALUES (?, ?, ?, ?)")
    var random = SplitMix64(seed: 0x6A6F_6264_726F_7001)
    let start = Timestamp.parse("2019-01-01")!.time.seconds
    let end = Timestamp.parse("2026-01-01")!.time.seconds
    let span = end - start
    let customers = max(1, orders / 4)
    for index in 0..<orders {
      let created = start + Int64(index) * span / Int64(max(orders, 1)) + Int64(random.next(upTo: 60))
      let updated = min(created + Int64(random.next(upTo: 30 * 86_400)), end + 30 * 86_400)
      let customer = Int(random.next(upTo: UInt64(customers)))
      let name = DemoData.customerName(customer)
      let email = DemoData.customerEmail(customer)
      let lines = 1 + Int(random.next(upTo: 4))
      var subtotal: Int64 = 0
      let orderID = random.uuid()
      for _ in 0..<lines {
        let sku = Int(random.next(upTo: UInt64(DemoData.skuCount)))
        let quantity = 1 + Int64(random.next(upTo: 3))
        let price = 199 + Int64(sku * 37 % 9_800)
        subtotal += quantity * price
        try insertItem.run([.text(orderID), .text(DemoData.sku(sku)), .integer(quantity), .integer(price)])
      }
      let tax = subtotal / 5
      let status = DemoData.statuses[Int(random.next(upTo: 10)) % 4 == 0 ? Int(random.next(upTo: 4)) : 1]
      let payment = DemoData.payments[Int(random.next(upTo: 4))]
      try insertOrder.run([
        .text(orderID),
        .text("ORD-" + DemoData.zeroPadded(index + 1, 8)),
        random.next(upTo: 3) == 0
          ? .null : .text("EXT-" + DemoData.zeroPadded(Int(random.next(upTo: 1_000_000)), 6)),
        .text(status),
        .text(payment),
        .text(random.next(upTo: 2) == 0 ? "fulfilled" : "unfulfilled"),
        .text(DemoData.customerID(customer)),
        .text(name),
        .text(email),
        .text(DemoData.currencies[customer % DemoData.currencies.count]),
        .integer(subtotal + tax),
        .integer(subtotal),
        .integer(tax),
        .integer(Int64(lines)),
        .text(DemoData.zeroPadded(Int(random.next(upTo: 99_999)), 5)),
        .text(DemoData.zeroPadded(Int(random.next(upTo: 99_999)), 5)),
        .text(DemoData.countries[customer % DemoData.countries.count]),
        .text(Timestamp(seconds: created).rfc3339),
        .text(Timestamp(seconds: updated).rfc3339),
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
