/// Parses the Elastic Path filter language: `op(field,value[,value…])` terms joined by `:`.
///
/// Values are bare (`A-Z a-z 0-9 $ - _ * .` and space, trimmed) or quoted with `"` or `'`, where a
/// backslash escapes the next character. The parser checks syntax only; ``FilterCompiler`` checks
/// fields, operators and values against a job type.
public struct FilterParser {
  private let scalars: [Unicode.Scalar]
  private var index = 0
  private let text: String

  private init(_ text: String) {
    self.text = text
    self.scalars = Array(text.unicodeScalars)
  }

  /// Parses `text`; an empty or all-blank filter has no clauses.
  public static func parse(_ text: String) throws(FilterError) -> FilterExpression {
    var parser = FilterParser(text)
    return try parser.parseExpression()
  }

  private var position: Int { index + 1 }
  private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

  private mutating func parseExpression() throws(FilterError) -> FilterExpression {
    skipSpaces()
    var clauses: [FilterExpression.Clause] = []
    if current == nil { return FilterExpression(text: text, clauses: []) }
    while true {
      clauses.append(try parseClause())
      if clauses.count > FilterExpression.maximumClauses {
        throw FilterError(
          "too many clauses", at: clauses.last!.position,
          hint: "at most \(FilterExpression.maximumClauses)")
      }
      skipSpaces()
      guard let next = current else { break }
      guard next == ":" else { throw unexpected("':' between clauses") }
      index += 1
      skipSpaces()
      if current == nil { throw FilterError("expected a clause after ':'", at: position) }
    }
    return FilterExpression(text: text, clauses: clauses)
  }

  private mutating func parseClause() throws(FilterError) -> FilterExpression.Clause {
    let start = position
    let name = take { $0.properties.isAlphabetic || $0 == "_" }
    if name.isEmpty { throw unexpected("an operator such as eq(") }
    skipSpaces()
    guard current == "(" else { throw unexpected("'(' after '\(name)'") }
    index += 1
    skipSpaces()
    let fieldStart = position
    let field = take { $0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" }
    if field.isEmpty { throw unexpected("a field name") }
    skipSpaces()
    var values: [FilterExpression.Literal] = []
    while current == "," {
      index += 1
      values.append(try parseValue())
    }
    guard current == ")" else {
      throw current == nil
        ? FilterError("missing ')' to close '\(name)(' opened", at: start) : unexpected("',' or ')'")
    }
    index += 1
    return .init(operatorName: name, position: start, field: field, fieldPosition: fieldStart, values: values)
  }

  private mutating func parseValue() throws(FilterError) -> FilterExpression.Literal {
    skipSpaces()
    let start = position
    guard let first = current else { throw FilterError("expected a value", at: start) }
    if first == "\"" || first == "'" {
      index += 1
      var value = String.UnicodeScalarView()
      while let scalar = current, scalar != first {
        index += 1
        if scalar == "\\" {
          guard let escaped = current else { break }
          value.append(escaped)
          index += 1
        } else {
          value.append(scalar)
        }
      }
      guard current == first else {
        throw FilterError("unterminated quoted value", at: start, hint: "close it with \(first)")
      }
      index += 1
      skipSpaces()
      return .init(text: String(value), position: start, quoted: true)
    }
    let value = take(while: FilterParser.isBare).trimming { $0 == " " }
    if value.isEmpty {
      if first == "," || first == ")" { throw FilterError("empty value", at: start) }
      throw FilterError(
        "unexpected character '\(first.escaped(asASCII: false))'", at: start,
        hint: "bare values take A-Z a-z 0-9 $ - _ * . and space; quote others with \" or '")
    }
    return .init(text: value, position: start)
  }

  private static func isBare(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "A"..."Z", "a"..."z", "0"..."9", "$", "-", "_", "*", ".", " ": true
    default: false
    }
  }

  private mutating func take(while predicate: (Unicode.Scalar) -> Bool) -> String {
    var result = String.UnicodeScalarView()
    while let scalar = current, predicate(scalar) {
      result.append(scalar)
      index += 1
    }
    return String(result)
  }

  private mutating func skipSpaces() {
    while current == " " { index += 1 }
  }

  private func unexpected(_ expectation: String) -> FilterError {
    guard let scalar = current else {
      return FilterError("unexpected end, expected \(expectation)", at: position)
    }
    return FilterError(
      "unexpected '\(scalar.escaped(asASCII: false))', expected \(expectation)", at: position)
  }
}
