import CCurl

/// POSTs a JSON body with libcurl, the one owner of a curl easy handle (reused, so a receiver's
/// connection is kept alive between events). Used by one thread at a time.
///
/// Every request is bounded: 10 s in all (connect included), no redirects followed (a 3xx is a failed
/// attempt), only `http` and `https`, and at most ``responseLimit`` bytes of response body read: a
/// receiver that answers slowly, sends a huge body or closes the connection is a failed attempt, never a
/// stuck thread.
final class HTTPPoster {
  /// The most response body read; more is a failed attempt.
  static let responseLimit = 64 * 1024
  /// Seconds a request may take in all.
  static let timeoutSeconds = 10

  /// What one POST came to.
  enum Outcome: Equatable {
    /// A 2xx answer.
    case delivered(status: Int)
    /// Anything else, said in words (`HTTP 503`, `timed out after 10 s`, `connection refused`).
    case failed(String)
  }

  private let handle: UnsafeMutableRawPointer
  private let userAgent = "jobdrop-webhooks/1"

  /// Sets libcurl up once per process, before any thread uses it.
  static let setUp: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

  init() {
    HTTPPoster.setUp
    guard let handle = curl_easy_init() else { preconditionFailure("curl_easy_init failed") }
    self.handle = handle
  }

  deinit { curl_easy_cleanup(handle) }

  /// POSTs `body` to `url` with `headers` (`Name: value`).
  func post(_ url: String, headers: [String], body: String) -> Outcome {
    var list: UnsafeMutablePointer<curl_slist>?
    for header in ["Content-Type: application/json", "User-Agent: \(userAgent)", "Expect:"] + headers {
      list = curl_slist_append(list, header)
    }
    defer { curl_slist_free_all(list) }
    let received = ResponseCounter()
    let context = Unmanaged.passUnretained(received).toOpaque()
    let bytes = Array(body.utf8)
    let code: CURLcode = url.withCString { url in
      bytes.withUnsafeBytes { body in
        jobdrop_curl_set_pointer(handle, CURLOPT_URL, url)
        jobdrop_curl_set_long(handle, CURLOPT_POST, 1)
        jobdrop_curl_set_pointer(handle, CURLOPT_POSTFIELDS, body.baseAddress)
        jobdrop_curl_set_size(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        jobdrop_curl_set_pointer(handle, CURLOPT_HTTPHEADER, list)
        jobdrop_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        jobdrop_curl_set_long(handle, CURLOPT_TIMEOUT, HTTPPoster.timeoutSeconds)
        jobdrop_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT, 5)
        jobdrop_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        "http,https".withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_PROTOCOLS_STR, $0) }
        jobdrop_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
        jobdrop_curl_set_write(handle) { _, size, count, context in
          let counter = Unmanaged<ResponseCounter>.fromOpaque(context!).takeUnretainedValue()
          counter.bytes += size * count
          // Returning less than was given makes libcurl stop with CURLE_WRITE_ERROR.
          return counter.bytes > HTTPPoster.responseLimit ? 0 : size * count
        }
        return curl_easy_perform(handle)
      }
    }
    // The body and header list are this call's: nothing of them may stay in the reused handle.
    jobdrop_curl_set_pointer(handle, CURLOPT_POSTFIELDS, nil)
    jobdrop_curl_set_pointer(handle, CURLOPT_HTTPHEADER, nil)
    var status = 0
    jobdrop_curl_response_code(handle, &status)
    switch code {
    case CURLE_OK:
      if (200..<300).contains(status) { return .delivered(status: status) }
      if (300..<400).contains(status) { return .failed("HTTP \(status) (redirects are not followed)") }
      return .failed("HTTP \(status)")
    case CURLE_WRITE_ERROR where received.bytes > HTTPPoster.responseLimit:
      return .failed("HTTP \(status) with a response body over \(HTTPPoster.responseLimit / 1024) KiB")
    case CURLE_OPERATION_TIMEDOUT:
      return .failed("no answer within \(HTTPPoster.timeoutSeconds) s")
    default:
      return .failed(String(cString: curl_easy_strerror(code)))
    }
  }
}

/// How many response bytes a request has received so far.
private final class ResponseCounter {
  var bytes = 0
}
