import CCurl
import JobdropCrypto

#if canImport(Glibc)
  import Glibc
#endif

/// HTTP requests with libcurl, the one owner of a curl easy handle (reused, so a server's connection is
/// kept alive between requests). Used by one thread at a time: a webhook lane, or the bucket mirror.
///
/// Every request is bounded: no redirects followed (a 3xx is an answer like any other), only `http` and
/// `https`, a connection within 5 s, at most `responseLimit` bytes of response body kept, and either a
/// total time limit or, for an upload of any size, a stall limit (less than 1 KiB/s for 30 s): a server
/// that answers slowly, sends a huge body or closes the connection is a failed request, never a stuck
/// thread.
final class HTTPClient {
  /// What a request sends.
  enum Body {
    case none
    case bytes([UInt8])
    /// `size` bytes read from the open descriptor from offset `from`, with `pread` (the descriptor's own
    /// offset is left alone): a whole file, or one part of a multipart upload.
    case file(descriptor: Int32, size: Int64, from: Int64 = 0)
  }

  /// Signing with AWS Signature Version 4 (libcurl's `CURLOPT_AWS_SIGV4`).
  struct AWSSigning {
    /// `aws:amz:REGION:SERVICE`.
    var scope: String
    /// `ACCESS_KEY_ID:SECRET_ACCESS_KEY`: never logged.
    var user: String
  }

  /// A request's answer, or why there was none.
  enum Outcome {
    case answered(status: Int, body: [UInt8])
    /// No answer, and why.
    case failed(TransportFailure)
  }

  /// Why an exchange got no answer: what happened (the cause), and the words for a log or `last_error`
  /// (`no answer within 10 s`, `Couldn't connect to server`).
  struct TransportFailure: Error, Equatable, CustomStringConvertible {
    enum Cause: Equatable {
      case timedOut
      /// The answer's body was over the limit; `status` is what the server had said.
      case responseTooLarge(status: Int)
      /// The file to send could not be read (`errno`).
      case unreadableFile(errno: Int32)
      /// Any other libcurl failure (its `CURLcode`).
      case curl(code: UInt32)
    }
    let cause: Cause
    let description: String
  }

  /// What one webhook POST came to.
  enum PostOutcome: Equatable {
    /// A 2xx answer.
    case delivered(status: Int)
    /// Anything else, said in words (`HTTP 503`, `no answer within 10 s`, `Couldn't connect to server`).
    case failed(String)
  }

  /// The most response body a webhook receiver may send; more is a failed attempt.
  static let postResponseLimit = 64 * 1024
  /// Seconds a webhook POST may take in all.
  static let postTimeoutSeconds = 10

  let handle: UnsafeMutableRawPointer
  private let userAgent: String

  /// Sets libcurl up once per process, before any thread uses it.
  static let setUp: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

  init(userAgent: String) {
    HTTPClient.setUp
    guard let handle = curl_easy_init() else { preconditionFailure("curl_easy_init failed") }
    self.handle = handle
    self.userAgent = userAgent
  }

  deinit { curl_easy_cleanup(handle) }

  /// POSTs a JSON `body` to `url` with `headers` (`Name: value`): 10 s in all, 64 KiB of answer at most.
  func post(_ url: String, headers: [String], body: String) -> PostOutcome {
    let outcome = send(
      method: "POST", url: url, headers: ["Content-Type: application/json"] + headers,
      body: .bytes(Array(body.utf8)), responseLimit: HTTPClient.postResponseLimit,
      timeoutSeconds: HTTPClient.postTimeoutSeconds)
    switch outcome {
    case .answered(let status, _) where (200..<300).contains(status):
      return .delivered(status: status)
    case .answered(let status, _) where (300..<400).contains(status):
      return .failed("HTTP \(status) (redirects are not followed)")
    case .answered(let status, _):
      return .failed("HTTP \(status)")
    case .failed(let failure):
      return .failed(failure.description)
    }
  }

  /// The value of the response header ``send(method:url:headers:body:signing:responseLimit:timeoutSeconds:keeping:)``
  /// was asked to keep (`keeping`), from its last answer.
  private(set) var keptHeader: String?

  /// Sends one request. `timeoutSeconds` bounds the whole request; without it only a stall ends it.
  /// `keeping`: a response header whose value to keep in ``keptHeader`` (an upload part's `ETag`).
  func send(
    method: String, url: String, headers: [String], body: Body, signing: AWSSigning? = nil,
    responseLimit: Int, timeoutSeconds: Int? = nil, keeping header: String? = nil
  ) -> Outcome {
    keptHeader = nil
    curl_easy_reset(handle)  // nothing of the last request stays; the connection does
    var list: UnsafeMutablePointer<curl_slist>?
    // A signed request carries only headers that reach the server as given (libcurl signs every header
    // of the list, and an `Expect:` that removes a header would be signed but not sent).
    for header in (signing == nil ? ["Expect:"] : []) + headers {
      list = curl_slist_append(list, header)
    }
    defer { curl_slist_free_all(list) }
    let transfer = Transfer(limit: responseLimit)
    let context = Unmanaged.passUnretained(transfer).toOpaque()
    let code: CURLcode = withExtendedLifetime(transfer) {
      url.withCString { urlText in
        method.withCString { methodText in
          jobdrop_curl_set_pointer(handle, CURLOPT_URL, urlText)
          jobdrop_curl_set_pointer(handle, CURLOPT_CUSTOMREQUEST, methodText)
          jobdrop_curl_set_pointer(handle, CURLOPT_HTTPHEADER, list)
          userAgent.withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_USERAGENT, $0) }
          jobdrop_curl_set_long(handle, CURLOPT_EXPECT_100_TIMEOUT_MS, 200)
          jobdrop_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0)
          jobdrop_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT, 5)
          jobdrop_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
          if let timeoutSeconds {
            jobdrop_curl_set_long(handle, CURLOPT_TIMEOUT, timeoutSeconds)
          } else {
            jobdrop_curl_set_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024)
            jobdrop_curl_set_long(handle, CURLOPT_LOW_SPEED_TIME, 30)
          }
          "http,https".withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_PROTOCOLS_STR, $0) }
          jobdrop_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
          jobdrop_curl_set_write(handle) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            return transfer.received(data, size * count)
          }
          switch body {
          case .none:
            if method == "HEAD" { jobdrop_curl_set_long(handle, CURLOPT_NOBODY, 1) }
          case .bytes(let bytes):
            transfer.bytes = bytes
            jobdrop_curl_set_long(handle, CURLOPT_POST, 1)
            jobdrop_curl_set_size(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
            jobdrop_curl_set_pointer(handle, CURLOPT_READDATA, context)
            jobdrop_curl_set_read(handle) { buffer, size, count, context in
              Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().read(into: buffer, size * count)
            }
          case .file(let descriptor, let size, let from):
            transfer.file = descriptor
            transfer.fileStart = from
            transfer.fileSize = size
            jobdrop_curl_set_long(handle, CURLOPT_UPLOAD, 1)
            jobdrop_curl_set_size(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(size))
            jobdrop_curl_set_pointer(handle, CURLOPT_READDATA, context)
            jobdrop_curl_set_read(handle) { buffer, size, count, context in
              Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().read(into: buffer, size * count)
            }
          }
          jobdrop_curl_set_pointer(handle, CURLOPT_SEEKDATA, context)
          jobdrop_curl_set_seek(handle) { context, offset, origin in
            guard origin == SEEK_SET else { return 2 }  // CURL_SEEKFUNC_CANTSEEK
            Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().offset = Int64(offset)
            return 0
          }
          if let signing {
            signing.scope.withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_AWS_SIGV4, $0) }
            signing.user.withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_USERPWD, $0) }
          }
          return curl_easy_perform(handle)
        }
      }
    }
    var status = 0
    jobdrop_curl_response_code(handle, &status)
    if let header, code == CURLE_OK, let value = jobdrop_curl_header(handle, header) {
      keptHeader = String(cString: value)
    }
    // The header list, the body and the credentials are this call's: none may stay in the reused handle.
    curl_easy_reset(handle)
    switch code {
    case CURLE_OK:
      return .answered(status: status, body: transfer.response)
    case CURLE_WRITE_ERROR where transfer.overLimit:
      return .failed(
        TransportFailure(
          cause: .responseTooLarge(status: status),
          description: "HTTP \(status) with a response body over \(responseLimit / 1024) KiB"))
    case CURLE_OPERATION_TIMEDOUT:
      return .failed(
        TransportFailure(
          cause: .timedOut,
          description: timeoutSeconds.map { "no answer within \($0) s" } ?? "the transfer stalled for 30 s"))
    case CURLE_READ_ERROR:
      return .failed(
        TransportFailure(
          cause: .unreadableFile(errno: transfer.readError),
          description: "cannot read the file to send: \(String(cString: strerror(transfer.readError)))"))
    default:
      return .failed(
        TransportFailure(
          cause: .curl(code: code.rawValue), description: String(cString: curl_easy_strerror(code))))
    }
  }
}

/// One request's body source and its answer so far.
final class Transfer {
  let limit: Int
  /// Hashes what is received instead of keeping it (an SFTP file read back).
  var digest: SHA256Digest?
  var response: [UInt8] = []
  var overLimit = false
  var bytes: [UInt8] = []
  var file: Int32?
  /// Where the file's bytes to send start, and how many there are.
  var fileStart: Int64 = 0
  var fileSize: Int64 = 0
  var offset: Int64 = 0
  var readError: Int32 = 0

  init(limit: Int) { self.limit = limit }

  /// Keeps up to `limit` bytes of the answer; returning less than was given makes libcurl stop with
  /// `CURLE_WRITE_ERROR`.
  func received(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
    guard response.count + count <= limit else {
      overLimit = true
      return 0
    }
    if let data {
      data.withMemoryRebound(to: UInt8.self, capacity: count) {
        response.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
      }
    }
    return count
  }

  /// Fills libcurl's upload buffer from the body; 0 at its end, `CURL_READFUNC_ABORT` on a read error.
  func read(into buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
    guard let buffer else { return 0 }
    if let file {
      let wanted = min(Int64(capacity), fileSize - offset)
      guard wanted > 0 else { return 0 }
      let count = pread(file, buffer, Int(wanted), off_t(fileStart + offset))
      if count < 0 {
        readError = errno
        return Int(CURL_READFUNC_ABORT)
      }
      offset += Int64(count)
      digest?.update(UnsafeRawBufferPointer(start: buffer, count: count))
      return count
    }
    let start = Int(offset)
    let count = min(capacity, bytes.count - start)
    guard count > 0 else { return 0 }
    bytes.withUnsafeBytes { raw in
      UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + start, byteCount: count)
    }
    offset += Int64(count)
    return count
  }
}
