/// One page of a `ListObjectsV2` answer, read from its XML: the objects' keys, sizes and ETags, and the
/// token of the next page.
///
/// The answer's shape is fixed by the S3 API (`<Contents><Key>…</Key>…<ETag>…</ETag><Size>…</Size>`
/// per object), so the elements are found by name; entities (`&amp;`, `&#38;`, …) are decoded.
struct S3Listing {
  struct Object: Equatable {
    var key: String
    var size: Int64
    /// The ETag without its quotes: the MD5 of the content for an object put in one piece.
    var etag: String
  }

  var objects: [Object] = []
  /// Where the next page starts, when the answer was truncated.
  var nextToken: String?

  init?(xml: [UInt8]) {
    let text = String(decoding: xml, as: UTF8.self)
    guard text.contains("<ListBucketResult") else { return nil }
    for contents in S3Listing.elements("Contents", in: Substring(text)) {
      guard let key = S3Listing.elements("Key", in: contents).first,
        let size = S3Listing.elements("Size", in: contents).first.flatMap({ Int64($0) })
      else { return nil }
      let etag = S3Listing.elements("ETag", in: contents).first.map(S3Listing.decode) ?? ""
      objects.append(
        Object(key: S3Listing.decode(key), size: size, etag: etag.trimming { $0 == "\"" }))
    }
    if S3Listing.elements("IsTruncated", in: Substring(text)).first == "true" {
      guard let token = S3Listing.elements("NextContinuationToken", in: Substring(text)).first else {
        return nil
      }
      nextToken = S3Listing.decode(token)
    }
  }

  /// The text of every `<name>…</name>` in `text`, in order (not nested in one another).
  static func elements(_ name: String, in text: Substring) -> [Substring] {
    var found: [Substring] = []
    var rest = text[...]
    let open = "<\(name)>"
    let close = "</\(name)>"
    while let start = rest.firstRange(of: open), let end = rest[start.upperBound...].firstRange(of: close) {
      found.append(rest[start.upperBound..<end.lowerBound])
      rest = rest[end.upperBound...]
    }
    return found
  }

  /// `text` with XML's entities and character references decoded.
  static func decode(_ text: Substring) -> String {
    guard text.contains("&") else { return String(text) }
    var decoded = ""
    var rest = text
    while let amp = rest.firstIndex(of: "&") {
      decoded += rest[..<amp]
      guard let semicolon = rest[amp...].firstIndex(of: ";") else { break }
      let entity = rest[rest.index(after: amp)..<semicolon]
      switch entity {
      case "amp": decoded += "&"
      case "lt": decoded += "<"
      case "gt": decoded += ">"
      case "quot": decoded += "\""
      case "apos": decoded += "'"
      default:
        let number =
          entity.hasPrefix("#x")
          ? UInt32(entity.dropFirst(2), radix: 16)
          : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
        if let number, let scalar = Unicode.Scalar(number) {
          decoded.unicodeScalars.append(scalar)
        } else {
          decoded += rest[amp...semicolon]
        }
      }
      rest = rest[rest.index(after: semicolon)...]
    }
    return decoded + rest
  }
}
