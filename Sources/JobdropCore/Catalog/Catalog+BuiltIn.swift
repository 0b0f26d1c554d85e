extension Catalog {
  /// The catalog over the reference commerce schema (see `jobdrop demo-data`).
  public static let builtIn = Catalog(jobTypes: [.orderExport])
}

extension JobType {
  /// Elastic Path's `order_export`: one row per order of the reference `orders` table.
  public static let orderExport = JobType(
    name: "order_export",
    summary: "One row per order, with totals in minor units and RFC 3339 UTC times.",
    source: "orders",
    columns: [
      Column(name: "id", type: .text),
      Column(name: "order_number", type: .text),
      Column(name: "external_ref", type: .text),
      Column(name: "status", type: .text),
      Column(name: "payment", type: .text),
      Column(name: "shipping", type: .text),
      Column(name: "customer_id", type: .text),
      Column(name: "name", type: .text),
      Column(name: "email", type: .text),
      Column(name: "currency", type: .text),
      Column(name: "with_tax", type: .money),
      Column(name: "without_tax", type: .money),
      Column(name: "tax", type: .money),
      Column(name: "item_count", type: .integer),
      Column(name: "shipping_postcode", type: .text),
      Column(name: "billing_postcode", type: .text),
      Column(name: "shipping_country", type: .text),
      Column(name: "created_at", type: .timestamp),
      Column(name: "updated_at", type: .timestamp),
    ],
    fields: [
      FilterField(
        name: "status", type: .enum, operators: [.eq, .in],
        values: ["incomplete", "complete", "processing", "cancelled"]),
      FilterField(
        name: "payment", type: .enum, operators: [.eq, .in],
        values: ["unpaid", "authorized", "paid", "refunded"]),
      FilterField(
        name: "shipping", type: .enum, operators: [.eq, .in], values: ["fulfilled", "unfulfilled"]),
      FilterField(name: "currency", type: .text, operators: [.eq, .in]),
      FilterField(
        name: "product_sku", type: .text, operators: [.eq, .in],
        related: .init(table: "order_items", foreignKey: "order_id", key: "id", column: "product_sku")),
      FilterField(name: "name", type: .text, operators: [.eq, .like]),
      FilterField(name: "email", type: .text, operators: [.eq, .like]),
      FilterField(name: "customer_id", type: .text, operators: [.eq, .like]),
      FilterField(name: "order_number", type: .text, operators: [.eq, .like]),
      FilterField(name: "external_ref", type: .text, operators: [.eq, .like, .isNull]),
      FilterField(name: "with_tax", type: .money, operators: [.gt, .ge, .lt, .le]),
      FilterField(name: "without_tax", type: .money, operators: [.gt, .ge, .lt, .le]),
      FilterField(name: "created_at", type: .timestamp, operators: [.eq, .gt, .ge, .lt, .le]),
      FilterField(name: "updated_at", type: .timestamp, operators: [.eq, .gt, .ge, .lt, .le]),
    ]
  )
}
