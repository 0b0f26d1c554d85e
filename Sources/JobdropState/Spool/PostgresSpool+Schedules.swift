import JobdropPostgres

/// The standing requests of several nodes: one row a schedule (`jobdrop_schedules`), changed only under
/// the row's lock (``updateSchedule(_:_:)``), so of two nodes that find a schedule due, the second reads
/// the first one's run and makes none.
extension PostgresSpool {
  static let scheduleSchema = """
    CREATE TABLE IF NOT EXISTS jobdrop_schedules (
      id text PRIMARY KEY,
      partner text,
      record text NOT NULL
    );
    """

  /// Every schedule's id and record text.
  func scheduleRecords() throws -> [(id: String, record: String)] {
    try withConnection { connection in
      let result = try connection.execute("SELECT id, record FROM jobdrop_schedules ORDER BY id")
      return (0..<result.count).compactMap { row in
        guard let id = result.text(row, 0), let record = result.text(row, 1) else { return nil }
        return (id, record)
      }
    }
  }

  /// Removes the schedule `id`.
  func removeSchedule(_ id: String) throws {
    _ = try withConnection { connection in
      try connection.execute("DELETE FROM jobdrop_schedules WHERE id = $1", [.text(id)])
    }
  }

  /// Changes the schedule `id` in one transaction holding its row's lock: `change` gets its record text
  /// (`nil`: no such row) and returns the partner and text to store, or `nil` to leave it. Returns the
  /// text stored afterwards.
  func updateSchedule(_ id: String, _ change: (String?) throws -> (partner: String?, record: String)?) throws
    -> String?
  {
    try withConnection { connection in
      try connection.transaction { () throws -> String? in
        // A row another node inserts meanwhile is waited for by the insert's conflict below.
        let found = try connection.execute(
          "SELECT record FROM jobdrop_schedules WHERE id = $1 FOR UPDATE", [.text(id)])
        let current = found.count > 0 ? found.text(0, 0) : nil
        guard let changed = try change(current) else { return current }
        try connection.execute(
          """
          INSERT INTO jobdrop_schedules (id, partner, record) VALUES ($1, $2, $3)
          ON CONFLICT (id) DO UPDATE SET partner = EXCLUDED.partner, record = EXCLUDED.record
          """, [.text(id), changed.partner.map { .text($0) } ?? .null, .text(changed.record)])
        return changed.record
      }
    }
  }
}
