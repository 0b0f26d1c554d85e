#if canImport(Glibc)
  import Glibc
#endif

/// Why an S3 call did not succeed, in words: `HTTP 403 AccessDenied: Access Denied`,
/// `Couldn't connect to server`.
struct S3Failure: Error, CustomStringConvertible {
  /// The bucket's answer, when it answered: its HTTP status, S3's error code (`AccessDenied`,
  /// `NoSuchBucket`) and message.
  var status: Int?
  var code: String?
  var message: String?
  /// Why there was no answer.
  var transport: HTTPClient.TransportFailure?

  init(
    status: Int? = nil, code: String? = nil, message: String? = nil,
    transport: HTTPClient.TransportFailure? = nil
  ) {
    self.status = status
    self.code = code
    self.message = message
    self.transport = transport
  }

  /// What went wrong, for a problem of jobdrop's own (an answer it could not read).
  init(description: String) { self.init(message: description) }

  var description: String {
    if let transport { return transport.description }
    guard let status else { return message ?? "the bucket failed" }
    return "HTTP \(status)" + (code.map { " \($0)" } ?? "") + (message.map { ": \($0)" } ?? "")
  }
}

/// The S3 calls the bucket mirror makes (`PutObject`, `DeleteObject`, `ListObjectsV2`, and the multipart
/// upload's, ``S3Bucket/putInParts(path:descriptor:size:partSize:contentType:cacheControl:shouldGoOn:)``),
/// signed with SigV4 by libcurl, over one kept-alive connection. Used by one thread at a time.
final class S3Bucket {
  let target: S3Target
  private let client = HTTPClient(userAgent: "jobdrop-publish/1")
  /// The most answer body read (a listing page of 1,000 keys is about 300 KB).
  static let responseLimit = 8 << 20
  /// The SHA-256 of nothing: the payload hash of a request without a body.
  static let emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

  init(target: S3Target) { self.target = target }

  /// The header the last call kept.
  var keptHeader: String? { client.keptHeader }

  /// Puts the `size` bytes of `descriptor` as the object of outbox path `path`. The payload is sent
  /// unsigned (`UNSIGNED-PAYLOAD`, which S3 accepts for any single PUT): an export file is streamed,
  /// not read twice.
  func put(path: String, descriptor: Int32, size: Int64, contentType: String, cacheControl: String)
    throws(S3Failure)
  {
    try call(
      "PUT", target.url(key: target.key(for: path)),
      headers: [
        "Content-Type: \(contentType)", "Cache-Control: \(cacheControl)",
        "x-amz-content-sha256: UNSIGNED-PAYLOAD",
      ], body: .file(descriptor: descriptor, size: size))
  }

  /// The ETag of the object of `path`, or `nil` if there is none.
  func etag(path: String) throws(S3Failure) -> String? {
    do {
      try call(
        "HEAD", target.url(key: target.key(for: path)),
        headers: ["x-amz-content-sha256: \(S3Bucket.emptyPayload)"], body: .none, keeping: "ETag")
      return keptHeader.map { String($0.filter { $0 != "\"" }) }
    } catch  where error.status == 404 {
      return nil
    }
  }

  /// Deletes the object of outbox path `path` (S3 answers 204 whether or not it was there).
  func delete(path: String) throws(S3Failure) {
    try call(
      "DELETE", target.url(key: target.key(for: path)),
      headers: ["x-amz-content-sha256: \(S3Bucket.emptyPayload)"], body: .none)
  }

  /// Lists at most one key under the target's prefix: reaches the bucket with the credentials, writes nothing.
  func probe() throws(S3Failure) {
    var query = "list-type=2&max-keys=1"
    if !target.prefix.isEmpty {
      query += "&prefix=" + S3Target.encode(target.prefix + "/", keepingSlashes: false)
    }
    try call(
      "GET", target.url(key: nil, query: query),
      headers: ["x-amz-content-sha256: \(S3Bucket.emptyPayload)"], body: .none)
  }

  /// Every object under the target's prefix, by outbox path.
  func list() throws(S3Failure) -> [String: S3Listing.Object] {
    var objects: [String: S3Listing.Object] = [:]
    var token: String?
    repeat {
      var query = "list-type=2"
      if !target.prefix.isEmpty {
        query += "&prefix=" + S3Target.encode(target.prefix + "/", keepingSlashes: false)
      }
      if let token { query += "&continuation-token=" + S3Target.encode(token, keepingSlashes: false) }
      let body = try call(
        "GET", target.url(key: nil, query: query),
        headers: ["x-amz-content-sha256: \(S3Bucket.emptyPayload)"], body: .none)
      guard let page = S3Listing(xml: body) else {
        throw S3Failure(description: "the bucket listing could not be read")
      }
      for object in page.objects {
        if let path = target.path(for: object.key) { objects[path] = object }
      }
      token = page.nextToken
    } while token != nil
    return objects
  }

  /// Sends one signed call; returns the answer's body (a 2xx), and the value of the header `keeping`
  /// names in ``keptHeader``.
  @discardableResult
  func call(_ method: String, _ url: String, headers: [String], body: HTTPClient.Body, keeping: String? = nil)
    throws(S3Failure) -> [UInt8]
  {
    let outcome = client.send(
      method: method, url: url, headers: headers + target.credentialHeaders, body: body,
      signing: target.signing, responseLimit: S3Bucket.responseLimit,
      timeoutSeconds: { if case .file = body { return nil } else { return 60 } }(), keeping: keeping)
    switch outcome {
    case .answered(let status, let body) where (200..<300).contains(status):
      return body
    case .answered(let status, let body):
      // S3's error body: <Error><Code>…</Code><Message>…</Message></Error>.
      let text = Substring(String(decoding: body.prefix(4096), as: UTF8.self))
      let code = S3Listing.elements("Code", in: text).first.map(S3Listing.decode)
      let message = S3Listing.elements("Message", in: text).first.map(S3Listing.decode)
      throw S3Failure(status: status, code: code, message: message)
    case .failed(let failure):
      throw S3Failure(transport: failure)
    }
  }
}
