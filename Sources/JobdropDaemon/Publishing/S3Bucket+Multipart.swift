import JobdropCrypto
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Multipart upload (`CreateMultipartUpload`, `UploadPart`, `CompleteMultipartUpload`,
/// `AbortMultipartUpload`, `ListMultipartUploads`): a file larger than a part is sent in parts read
/// straight from the file (never held in memory), each retried; an upload that will not be completed is
/// aborted, so no unfinished upload is left billing in the bucket.
extension S3Bucket {
  /// S3's limits: parts of 5 MiB to 5 GiB, at most 10,000 of them.
  static let smallestPart = 5 << 20
  static let largestPart = 5 << 30
  static let mostParts = 10_000
  /// Attempts per part before the upload is given up (and aborted).
  static let partAttempts = 3

  /// Puts the `size` bytes of `descriptor` as the object of `path` in parts of `partSize` (larger when
  /// 10,000 parts would not hold the file). `shouldGoOn` is asked before each part: `false` (a shutdown,
  /// the file withdrawn) aborts the upload and returns `false`. A part that fails
  /// ``partAttempts`` times aborts the upload and throws.
  @discardableResult
  func putInParts(
    path: String, descriptor: Int32, size: Int64, partSize: Int, contentType: String, cacheControl: String,
    shouldGoOn: () -> Bool
  ) throws(S3Failure) -> Bool {
    let key = target.key(for: path)
    let part = max(Int64(partSize), (size + Int64(S3Bucket.mostParts) - 1) / Int64(S3Bucket.mostParts))
    let created = try call(
      "POST", target.url(key: key, query: "uploads="),
      headers: [
        "Content-Type: \(contentType)", "Cache-Control: \(cacheControl)",
        "x-amz-content-sha256: \(S3Bucket.emptyPayload)",
      ], body: .none)
    let text = Substring(String(decoding: created, as: UTF8.self))
    guard let uploadID = S3Listing.elements("UploadId", in: text).first.map(S3Listing.decode) else {
      throw S3Failure(description: "the bucket did not give an upload id")
    }
    var etags: [String] = []
    var offset: Int64 = 0
    do throws(S3Failure) {
      while offset < size || etags.isEmpty {
        guard shouldGoOn() else {
          abort(key: key, uploadID: uploadID)
          return false
        }
        let length = min(part, size - offset)
        etags.append(
          try uploadPart(
            key: key, uploadID: uploadID, number: etags.count + 1, from: offset, length: length,
            descriptor: descriptor))
        offset += length
        CrashPoint.reached("part-uploaded")
      }
      var body = "<CompleteMultipartUpload>"
      for (index, etag) in etags.enumerated() {
        body += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(S3Bucket.escape(etag))</ETag></Part>"
      }
      body += "</CompleteMultipartUpload>"
      let bytes = Array(body.utf8)
      let answer = try call(
        "POST", target.url(key: key, query: "uploadId=" + S3Target.encode(uploadID, keepingSlashes: false)),
        headers: [
          "Content-Type: application/xml", "x-amz-content-sha256: \(SHA256Digest.hex(of: bytes))",
        ], body: .bytes(bytes))
      // S3 may answer 200 and an error in the body once the parts are being put together.
      let completed = Substring(String(decoding: answer.prefix(4096), as: UTF8.self))
      if completed.contains("<Error>") {
        throw S3Failure(
          status: 200, code: S3Listing.elements("Code", in: completed).first.map(S3Listing.decode),
          message: S3Listing.elements("Message", in: completed).first.map(S3Listing.decode))
      }
      return true
    } catch {
      abort(key: key, uploadID: uploadID)
      throw error
    }
  }

  /// Sends one part, tried up to ``partAttempts`` times (0.2 s, 0.4 s apart); returns its ETag.
  private func uploadPart(
    key: String, uploadID: String, number: Int, from offset: Int64, length: Int64, descriptor: Int32
  ) throws(S3Failure) -> String {
    var attempt = 1
    while true {
      do throws(S3Failure) {
        try call(
          "PUT",
          target.url(
            key: key,
            query: "partNumber=\(number)&uploadId=" + S3Target.encode(uploadID, keepingSlashes: false)),
          headers: ["x-amz-content-sha256: UNSIGNED-PAYLOAD"],
          body: .file(descriptor: descriptor, size: length, from: offset), keeping: "ETag")
        guard let etag = keptHeader else {
          throw S3Failure(description: "the bucket gave no ETag for a part")
        }
        return etag
      } catch {
        // A refusal (4xx other than a timeout or throttling) will not change by sending it again.
        if let status = error.status, (400..<500).contains(status), status != 408, status != 429 {
          throw error
        }
        guard attempt < S3Bucket.partAttempts else { throw error }
        usleep(UInt32(200_000 << (attempt - 1)))
        attempt += 1
      }
    }
  }

  /// Aborts an upload (best effort: a failure leaves it for the next start's sweep).
  func abort(key: String, uploadID: String) {
    _ = try? call(
      "DELETE", target.url(key: key, query: "uploadId=" + S3Target.encode(uploadID, keepingSlashes: false)),
      headers: ["x-amz-content-sha256: \(S3Bucket.emptyPayload)"], body: .none)
  }

  /// Aborts every unfinished multipart upload under the target's prefix (what a process killed mid-upload
  /// left); returns how many.
  func abortUnfinishedUploads() throws(S3Failure) -> Int {
    var aborted = 0
    var markers: (key: String, upload: String)?
    repeat {
      var query = ""
      if let markers {
        query += "key-marker=" + S3Target.encode(markers.key, keepingSlashes: false) + "&"
      }
      if !target.prefix.isEmpty {
        query += "prefix=" + S3Target.encode(target.prefix + "/", keepingSlashes: false) + "&"
      }
      if let markers {
        query += "upload-id-marker=" + S3Target.encode(markers.upload, keepingSlashes: false) + "&"
      }
      query += "uploads="
      let body = try call(
        "GET", target.url(key: nil, query: query),
        headers: ["x-amz-content-sha256: \(S3Bucket.emptyPayload)"], body: .none)
      let text = Substring(String(decoding: body, as: UTF8.self))
      for upload in S3Listing.elements("Upload", in: text) {
        guard let key = S3Listing.elements("Key", in: upload).first.map(S3Listing.decode),
          let id = S3Listing.elements("UploadId", in: upload).first.map(S3Listing.decode)
        else { continue }
        abort(key: key, uploadID: id)
        aborted += 1
      }
      let truncated = S3Listing.elements("IsTruncated", in: text).first == "true"
      let nextKey = S3Listing.elements("NextKeyMarker", in: text).first.map(S3Listing.decode)
      let nextUpload = S3Listing.elements("NextUploadIdMarker", in: text).first.map(S3Listing.decode)
      markers = truncated ? nextKey.map { ($0, nextUpload ?? "") } : nil
    } while markers != nil
    return aborted
  }

  /// `text` with XML's special characters escaped (an ETag holds quotes).
  static func escape(_ text: String) -> String {
    var escaped = ""
    for character in text {
      switch character {
      case "&": escaped += "&amp;"
      case "<": escaped += "&lt;"
      case ">": escaped += "&gt;"
      case "\"": escaped += "&quot;"
      default: escaped.append(character)
      }
    }
    return escaped
  }
}
