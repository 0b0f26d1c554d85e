/// Rows of cells as aligned columns (two spaces apart, the last column unpadded), one line a row.
enum TextTable {
  static func render(_ rows: [[String]]) -> String {
    guard let header = rows.first else { return "" }
    let widths = (0..<header.count - 1).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
      row.enumerated().map { index, cell in
        index < widths.count ? cell + String(repeating: " ", count: widths[index] - cell.count) : cell
      }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
  }
}
