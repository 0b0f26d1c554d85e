import FoundationEssentials
import JobdropSystem

/// Where a partner's finished exports are pushed (`deliver` in the partners file; `--deliver` without
/// partners): an SFTP folder, checked against a pinned host key and logged into with a private key, or
/// an S3 bucket and prefix; optionally OpenPGP-encrypted to a public key first.
///
/// Its description is the URL without any secret (the private key and credentials are files, named
/// only by path in errors).
public struct DeliveryTarget: Sendable, Equatable, CustomStringConvertible {
  public enum Place: Sendable, Equatable {
    /// `sftp://user@host[:port]/folder`.
    case sftp(user: String, host: String, port: Int, folder: String)
    /// `s3://bucket[/prefix]`.
    case s3(bucket: String, prefix: String)
  }

  public var url: String
  public var place: Place
  /// The server's host key as in `known_hosts` or a `.pub` file: `ssh-ed25519 AAAA…` (SFTP).
  public var hostKey: String?
  /// The private key file jobdrop logs in with (SFTP).
  public var privateKeyFile: String?
  /// A file whose first line is the passphrase of an encrypted `privateKeyFile` (SFTP).
  public var privateKeyPassphraseFile: String?
  /// An OpenPGP public key file (armored or binary) every file is encrypted to.
  public var encryptTo: String?
  /// S3: the endpoint (`http[s]://host[:port]`), region, and an AWS credentials file (its `default`
  /// profile, or `profile`).
  public var endpoint: String?
  public var region: String?
  public var credentialsFile: String?
  public var profile: String?

  public var description: String { url }

  /// The host key's blob (the key itself, decoded from the `host_key` line).
  public var hostKeyBlob: [UInt8]? {
    hostKey.flatMap(DeliveryTarget.hostKeyWords).flatMap { DeliveryTarget.blob($0.base64) }
  }

  /// The host key as a `known_hosts` entry holds it: its type and base64 (`ssh-ed25519 AAAA…`).
  public var hostKeyEntry: String? {
    hostKey.flatMap(DeliveryTarget.hostKeyWords).map { "\($0.type) \($0.base64)" }
  }

  /// Reads a `deliver` object; errors are `deliver.<key>: …` (the caller puts the partner in front).
  public static func parse(_ value: JSONValue) throws(DeliveryError) -> DeliveryTarget {
    guard case .object(let members) = value else {
      throw DeliveryError(#"deliver: expected {"url": "sftp://…" or "s3://…", …}"#)
    }
    let keys: Set<String> = [
      "url", "host_key", "private_key_file", "private_key_passphrase_file", "encrypt_to", "endpoint",
      "region", "credentials_file", "profile",
    ]
    for member in members where !keys.contains(member.key) {
      throw DeliveryError(
        "deliver: unknown key '\(member.key.prefix(80))' (keys: \(keys.sorted().joined(separator: ", ")))")
    }
    func string(_ key: String) throws(DeliveryError) -> String? {
      guard let value = value[key], value != .null else { return nil }
      guard case .string(let text) = value, !text.isEmpty else {
        throw DeliveryError("deliver.\(key): expected a non-empty string, found \(value.kind)")
      }
      return text
    }
    guard let url = try string("url") else { throw DeliveryError("deliver.url: missing") }
    return try DeliveryTarget(
      url: url, hostKey: string("host_key"), privateKeyFile: string("private_key_file"),
      privateKeyPassphraseFile: string("private_key_passphrase_file"), encryptTo: string("encrypt_to"),
      endpoint: string("endpoint"), region: string("region"),
      credentialsFile: string("credentials_file"), profile: string("profile"))
  }

  /// Checks a target's URL and keys (the files are read when the service starts).
  public init(
    url: String, hostKey: String? = nil, privateKeyFile: String? = nil,
    privateKeyPassphraseFile: String? = nil, encryptTo: String? = nil, endpoint: String? = nil,
    region: String? = nil, credentialsFile: String? = nil, profile: String? = nil
  ) throws(DeliveryError) {
    self.url = url
    self.hostKey = hostKey
    self.privateKeyFile = privateKeyFile
    self.privateKeyPassphraseFile = privateKeyPassphraseFile
    self.encryptTo = encryptTo
    self.endpoint = endpoint
    self.region = region
    self.credentialsFile = credentialsFile
    self.profile = profile
    if url.hasPrefix("sftp://") {
      let rest = url.dropFirst("sftp://".count)
      guard let at = rest.firstIndex(of: "@"), let slash = rest.firstIndex(of: "/"), at < slash else {
        throw DeliveryError("deliver.url: expected sftp://USER@HOST[:PORT]/FOLDER, got '\(url)'")
      }
      let user = String(rest[..<at])
      let authority = rest[rest.index(after: at)..<slash]
      var host = String(authority)
      var port = 22
      if let colon = authority.lastIndex(of: ":") {
        guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number)
        else {
          throw DeliveryError("deliver.url: the port in '\(url)' is not a number from 1 to 65535")
        }
        port = number
        host = String(authority[..<colon])
      }
      guard !user.isEmpty, !host.isEmpty, !user.contains(":") else {
        throw DeliveryError(
          "deliver.url: expected sftp://USER@HOST[:PORT]/FOLDER (no password in it), got '\(url)'")
      }
      place = .sftp(user: user, host: host, port: port, folder: String(rest[slash...]))
      guard let hostKey else {
        throw DeliveryError(
          "deliver.host_key: missing; an SFTP target needs the server's host key (ssh-keyscan)")
      }
      guard DeliveryTarget.hostKeyWords(hostKey) != nil else {
        throw DeliveryError("deliver.host_key: expected a key as in known_hosts, e.g. 'ssh-ed25519 AAAA…'")
      }
      guard privateKeyFile != nil else {
        throw DeliveryError(
          "deliver.private_key_file: missing; an SFTP target logs in with a private key file")
      }
    } else if url.hasPrefix("s3://") {
      let rest = url.dropFirst("s3://".count)
      let bucket = String(rest.prefix { $0 != "/" })
      guard (3...63).contains(bucket.count) else {
        throw DeliveryError("deliver.url: expected s3://BUCKET[/PREFIX], got '\(url)'")
      }
      place = .s3(bucket: bucket, prefix: String(rest.dropFirst(bucket.count)).trimming { $0 == "/" })
      if hostKey != nil || privateKeyFile != nil || privateKeyPassphraseFile != nil {
        throw DeliveryError(
          "deliver: host_key, private_key_file and private_key_passphrase_file are for sftp:// targets")
      }
    } else {
      throw DeliveryError(
        "deliver.url: expected sftp://USER@HOST[:PORT]/FOLDER or s3://BUCKET[/PREFIX], got '\(url)'")
    }
  }

  /// The type and base64 of `ssh-ed25519 AAAA… [comment]`, or of a `known_hosts` or `ssh-keyscan`
  /// line that has the host in front (`[host]:port ssh-ed25519 AAAA…`), if it is one.
  static func hostKeyWords(_ line: String) -> (type: String, base64: String)? {
    var words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    func isType(_ word: String) -> Bool {
      word.hasPrefix("ssh-") || word.hasPrefix("ecdsa-") || word.hasPrefix("sk-")
    }
    if let first = words.first, !isType(first), words.count >= 3 { words.removeFirst() }
    guard words.count >= 2, isType(words[0]), blob(words[1]) != nil else { return nil }
    return (words[0], words[1])
  }

  private static func blob(_ base64: String) -> [UInt8]? {
    guard let blob = Data(base64Encoded: base64), !blob.isEmpty else { return nil }
    return Array(blob)
  }
}

/// A `deliver` entry that cannot be used, in words naming the key.
public struct DeliveryError: Error, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
