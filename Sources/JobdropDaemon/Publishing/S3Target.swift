import JobdropSystem

/// Where `--publish s3://BUCKET[/PREFIX]` puts the outbox, and how to reach and sign for it, found the
/// way the AWS CLI finds it: the endpoint from `--s3-endpoint`, `AWS_ENDPOINT_URL_S3`,
/// `AWS_ENDPOINT_URL` or the profile's `endpoint_url` (else AWS itself); the region from `AWS_REGION`,
/// `AWS_DEFAULT_REGION` or the profile's `region` (else `us-east-1`); credentials from
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, else from the `AWS_PROFILE`
/// profile (else `default`) of the shared credentials and config files.
///
/// Its description is the `s3://` URL: the credentials are never printed.
public struct S3Target: Sendable, CustomStringConvertible {
  public let bucket: String
  /// The key prefix every outbox path is put under, without slashes at its ends (empty: none).
  public let prefix: String
  public let region: String
  /// A custom endpoint (`http[s]://host[:port]`), addressed path-style (`ENDPOINT/BUCKET/KEY`).
  public let endpoint: String?
  /// The profile read from the shared files.
  let profile: String
  let credentials: Credentials?
  /// Files larger than this are put in parts of this size (`--s3-part-size`, 5 MiB to 5 GiB).
  public var partSize = S3Target.defaultPartSize
  public static let defaultPartSize = 64 << 20

  struct Credentials: Sendable {
    var accessKeyID: String
    var secretAccessKey: String
    var sessionToken: String?
  }

  public var description: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }

  /// Resolves `url` (`s3://BUCKET[/PREFIX]`) with `endpoint` (the `--s3-endpoint` flag, if given).
  public init(parsing url: String, endpoint flag: String?, environment: [String: String])
    throws(ConfigurationError)
  {
    guard url.hasPrefix("s3://") else {
      throw ConfigurationError("--publish: expected s3://BUCKET[/PREFIX], got '\(url)'")
    }
    let rest = url.dropFirst(5)
    let bucket = String(rest.prefix { $0 != "/" })
    let validCharacters = bucket.utf8.allSatisfy {
      ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D
    }
    guard (3...63).contains(bucket.utf8.count), validCharacters, bucket.first != "-", bucket.first != "."
    else {
      throw ConfigurationError(
        "--publish: '\(bucket)' is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)")
    }
    self.bucket = bucket
    prefix = String(rest.dropFirst(bucket.count)).trimming { $0 == "/" }
    guard !prefix.contains("//"), prefix.utf8.count <= 512 else {
      throw ConfigurationError("--publish: the prefix '\(prefix)' has an empty folder name or is too long")
    }
    func value(_ names: String...) -> String? {
      names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
    }
    let profile = value("AWS_PROFILE") ?? "default"
    let files = AWSSharedFiles(profile: profile, environment: environment)
    region = value("AWS_REGION", "AWS_DEFAULT_REGION") ?? files["region"] ?? "us-east-1"
    if let endpoint = flag ?? value("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL") ?? files["endpoint_url"] {
      guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
        throw ConfigurationError("--s3-endpoint: expected an http:// or https:// URL, got '\(endpoint)'")
      }
      self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
    } else {
      self.endpoint = nil
    }
    if let key = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") {
      credentials = Credentials(
        accessKeyID: key, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"))
    } else if let key = files["aws_access_key_id"], let secret = files["aws_secret_access_key"] {
      credentials = Credentials(
        accessKeyID: key, secretAccessKey: secret, sessionToken: files["aws_session_token"])
    } else {
      credentials = nil
    }
    self.profile = profile
  }

  /// Checks that credentials were found (`jobdrop status` runs without them; publishing cannot).
  public func checkCredentials() throws(ConfigurationError) {
    guard credentials == nil else { return }
    throw ConfigurationError(
      "--publish: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile '\(profile)' aws_access_key_id and aws_secret_access_key in ~/.aws/credentials"
    )
  }

  /// The object key of an outbox path (`jobs/<id>.json` → `PREFIX/jobs/<id>.json`).
  func key(for path: String) -> String { prefix.isEmpty ? path : "\(prefix)/\(path)" }

  /// The outbox path of an object key under the prefix, or `nil` for a key outside it.
  func path(for key: String) -> String? {
    guard !prefix.isEmpty else { return key }
    guard key.hasPrefix(prefix + "/") else { return nil }
    return String(key.dropFirst(prefix.count + 1))
  }

  /// The URL of `key` (or of the bucket itself, for `nil`), with `query` (already encoded).
  func url(key: String?, query: String? = nil) -> String {
    let base: String
    let pathStyle: Bool
    if let endpoint {
      (base, pathStyle) = ("\(endpoint)/\(bucket)", true)
    } else if bucket.contains(".") {
      // A dotted name does not fit the wildcard certificate of virtual-hosted addressing.
      (base, pathStyle) = ("https://s3.\(region).amazonaws.com/\(bucket)", true)
    } else {
      (base, pathStyle) = ("https://\(bucket).s3.\(region).amazonaws.com", false)
    }
    let path = key.map { "/" + S3Target.encode($0, keepingSlashes: true) } ?? (pathStyle ? "" : "/")
    return base + path + (query.map { "?" + $0 } ?? "")
  }

  /// SigV4 signing for S3 in the target's region.
  var signing: HTTPClient.AWSSigning {
    HTTPClient.AWSSigning(
      scope: "aws:amz:\(region):s3",
      user: credentials.map { "\($0.accessKeyID):\($0.secretAccessKey)" } ?? "")
  }

  /// The headers every request carries besides the signature: the session token, if any.
  var credentialHeaders: [String] {
    credentials?.sessionToken.map { ["x-amz-security-token: \($0)"] } ?? []
  }

  /// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) and, for a key's path,
  /// `/`: the one encoding that both the URL and SigV4's canonical request use.
  static func encode(_ text: String, keepingSlashes: Bool) -> String {
    var encoded = ""
    for byte in text.utf8 {
      switch byte {
      case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E:
        encoded.unicodeScalars.append(Unicode.Scalar(byte))
      case 0x2F where keepingSlashes:
        encoded.append("/")
      default:
        let hex = Array("0123456789ABCDEF".utf8)
        encoded += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
      }
    }
    return encoded
  }
}
