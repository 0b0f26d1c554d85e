import FoundationEssentials
import JobdropCrypto
import JobdropModel
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Puts one file into a partner's storage under `name`, never overwriting another file of that name;
/// returns the URL it is at and the SHA-256 of its bytes. Used by one lane's thread.
protocol DeliveryTransport: AnyObject {
  func put(descriptor: Int32, size: Int64, name: String) throws(DeliveryFailure) -> (
    url: String, sha256: String
  )
  /// Reaches the target and looks without writing (`jobdrop doctor`): throws what would fail a delivery;
  /// returns what might (a warning), or `nil`.
  func probe() throws(DeliveryFailure) -> String?
}

/// Why a file could not be delivered, in words naming the partner's host (never a secret).
struct DeliveryFailure: Error, CustomStringConvertible {
  var description: String
}

extension DeliveryTarget {
  /// The transport for this target (its keys and credentials read now); an SFTP target's
  /// `known_hosts` file is written into `workFolder`.
  func makeTransport(workFolder: String) throws(DeliveryFailure) -> any DeliveryTransport {
    switch place {
    case .sftp(let user, let host, let port, let folder):
      guard let blob = hostKeyBlob, let entry = hostKeyEntry, let keyFile = privateKeyFile else {
        throw DeliveryFailure(description: "\(host): no host_key or private_key_file")
      }
      let hex = Array(SHA256Digest.hex(of: blob).utf8)
      let digest = stride(from: 0, to: hex.count, by: 2).map {
        UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)!
      }
      var fingerprint = Data(digest).base64EncodedString()
      while fingerprint.hasSuffix("=") { fingerprint.removeLast() }
      let passphrase = try privateKeyPassphraseFile.map { path throws(DeliveryFailure) in
        try DeliveryTarget.readPassphrase(path)
      }
      // A server offers several host keys (RSA, ECDSA, Ed25519) and libssh2 would pick its own
      // favourite; given a known_hosts entry, libcurl asks for the type of the key pinned.
      // (Public, and written again with every new transport: neither synced nor kept.)
      // Named by its content: two partners may deliver to one server with different pins.
      let line = (port == 22 ? host : "[\(host)]:\(port)") + " " + entry + "\n"
      let name = "known_hosts-" + String(SHA256Digest.hex(of: Array(line.utf8)).prefix(16))
      do {
        try AtomicWriter.writeIfChanged(
          Array(line.utf8), to: FileName(name), in: DirectoryHandle(path: workFolder), syncDirectory: false,
          syncFile: false)
      } catch {
        throw DeliveryFailure(description: "cannot write \(workFolder)/\(name): \(error)")
      }
      let knownHosts = workFolder + "/" + name
      return SFTPTransport(
        login: HTTPClient.SFTPLogin(
          host: host, port: port, user: user, privateKeyFile: keyFile, passphrase: passphrase,
          knownHostsFile: knownHosts, hostKeyType: String(entry.prefix { $0 != " " }),
          hostKeySHA256: fingerprint),
        folder: folder.hasSuffix("/") && folder.count > 1 ? String(folder.dropLast()) : folder)
    case .s3(let bucket, let prefix):
      var environment = ["AWS_CONFIG_FILE": "/dev/null", "AWS_REGION": region ?? "us-east-1"]
      environment["AWS_SHARED_CREDENTIALS_FILE"] = credentialsFile ?? "/dev/null"
      if let profile { environment["AWS_PROFILE"] = profile }
      do {
        let target = try S3Target(
          parsing: "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)"), endpoint: endpoint,
          environment: environment)
        try target.checkCredentials()
        return S3Transport(bucket: S3Bucket(target: target))
      } catch {
        let words = error.description.split(separator: " ").map {
          $0 == "--publish:" ? "deliver:" : String($0)
        }
        throw DeliveryFailure(description: "\(url): \(words.joined(separator: " "))")
      }
    }
  }
}

extension DeliveryTarget {
  /// The first line of `path` (`private_key_passphrase_file`); the error names the file, never its content.
  static func readPassphrase(_ path: String) throws(DeliveryFailure) -> String {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw DeliveryFailure(
        description: "private_key_passphrase_file \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    guard let bytes = try? FileReader.readAll(descriptor, limit: 1024, path: path), bytes.count < 1024,
      let line = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first,
      !line.isEmpty
    else {
      throw DeliveryFailure(
        description: "private_key_passphrase_file \(path): expected the passphrase on its first line")
    }
    return String(line)
  }
}

/// Into an SFTP folder: written as `.NAME.part`, renamed once complete; a name already taken is left
/// alone unless it holds the same bytes (then the earlier attempt arrived, and this one is a repeat).
final class SFTPTransport: DeliveryTransport {
  let login: HTTPClient.SFTPLogin
  let folder: String
  private let client = HTTPClient(userAgent: "jobdrop-deliver/1")

  init(login: HTTPClient.SFTPLogin, folder: String) {
    self.login = login
    self.folder = folder
  }

  func put(descriptor: Int32, size: Int64, name: String) throws(DeliveryFailure) -> (
    url: String, sha256: String
  ) {
    let url = "sftp://\(login.user)@\(login.host):\(login.port)\(folder)/\(name)"
    let failure: HTTPClient.SFTPFailure
    switch client.sftpUpload(login, folder: folder, name: name, descriptor: descriptor, size: size) {
    case .success(let sha256): return (url, sha256)
    case .failure(let error): failure = error
    }
    guard failure.nameTaken else { throw DeliveryFailure(description: failure.description) }
    guard let sha256 = SHA256Digest.hex(of: descriptor) else {
      throw DeliveryFailure(description: "cannot read \(name): \(String(cString: strerror(errno)))")
    }
    client.sftpRemove(login, path: "\(folder)/.\(name).part")
    switch client.sftpHash(login, path: "\(folder)/\(name)") {
    case .success(let existing) where existing == sha256:
      return (url, sha256)
    case .success:
      throw DeliveryFailure(
        description: "\(login.host): a different file named \(name) is already in \(folder); not overwritten")
    case .failure(let error):
      throw DeliveryFailure(description: error.description)
    }
  }
  func probe() throws(DeliveryFailure) -> String? {
    if let failure = client.sftpProbe(login, folder: folder) {
      throw DeliveryFailure(description: failure.description)
    }
    return nil
  }
}

/// Into a bucket: one PUT (in parts above 64 MiB); a key already taken by other bytes is left alone
/// (when the credentials may look).
final class S3Transport: DeliveryTransport {
  let bucket: S3Bucket

  init(bucket: S3Bucket) { self.bucket = bucket }

  func put(descriptor: Int32, size: Int64, name: String) throws(DeliveryFailure) -> (
    url: String, sha256: String
  ) {
    let url = "s3://\(bucket.target.bucket)/\(bucket.target.key(for: name))"
    guard let sha256 = SHA256Digest.hex(of: descriptor) else {
      throw DeliveryFailure(description: "cannot read \(name): \(String(cString: strerror(errno)))")
    }
    do throws(S3Failure) {
      // Credentials that may only put (a drop bucket) cannot look first: the names hold the job id and a
      // finished job's files never change, so a put then only ever repeats the same bytes.
      let existing: String?
      do {
        existing = try bucket.etag(path: name)
      } catch  where error.status == 403 {
        existing = nil
      }
      if let existing {
        let same =
          existing
          == (size > Int64(bucket.target.partSize)
            ? MD5Digest.multipartETag(of: descriptor, size: size, partSize: Int64(bucket.target.partSize))
            : MD5Digest.hex(of: descriptor))
        if same { return (url, sha256) }
        throw S3Failure(description: "a different object named \(name) is already there; not overwritten")
      }
      if size > Int64(bucket.target.partSize) {
        try bucket.putInParts(
          path: name, descriptor: descriptor, size: size, partSize: bucket.target.partSize,
          contentType: "application/octet-stream", cacheControl: "no-cache"
        ) { true }
      } else {
        try bucket.put(
          path: name, descriptor: descriptor, size: size, contentType: "application/octet-stream",
          cacheControl: "no-cache")
      }
      return (url, sha256)
    } catch {
      throw DeliveryFailure(description: "s3://\(bucket.target.bucket): \(error)")
    }
  }
  func probe() throws(DeliveryFailure) -> String? {
    do {
      try bucket.probe()
      return nil
    } catch  where error.code == "AccessDenied" {
      return
        "s3://\(bucket.target.bucket): the credentials may not list (AccessDenied); a put-only drop bucket "
        + "still takes deliveries"
    } catch {
      throw DeliveryFailure(description: "s3://\(bucket.target.bucket): \(error)")
    }
  }
}

/// OpenPGP encryption with the `gpg` program, in a keyring home of its own that holds nothing: the
/// recipient's key is read from its file for each file (`--recipient-file`), nothing is imported.
enum PGPEncryptor {
  static let program = "/usr/bin/gpg"

  /// Encrypts `input` to the key in `keyFile` into `output`; the error names the key file, never its content.
  static func encrypt(_ input: String, to keyFile: String, output: String, home: String)
    throws(DeliveryFailure)
  {
    mkdir(home, 0o700)
    let result = ChildProcess.run(
      program,
      [
        "--batch", "--no-tty", "--quiet", "--no-options", "--homedir", home, "--trust-model", "always",
        "--yes", "--recipient-file", keyFile, "--output", output, "--encrypt", input,
      ], environment: ["PATH=/usr/bin:/bin", "HOME=\(home)"])
    guard result.status == 0 else {
      let reason =
        result.stderr.split(whereSeparator: \.isNewline).first.map(String.init) ?? "exit \(result.status)"
      throw DeliveryFailure(description: "cannot encrypt to encrypt_to \(keyFile): \(reason)")
    }
  }

  /// Whether gpg can encrypt to the key in `keyFile` (nothing is written but a keyring home, removed).
  static func check(_ keyFile: String) throws(DeliveryFailure) {
    try ScratchFolder.with { folder throws(DeliveryFailure) in
      try encrypt("/dev/null", to: keyFile, output: folder + "/probe.pgp", home: folder + "/home")
    }
  }
}

/// A private folder under /tmp for a check's files (`jobdrop doctor`), removed after it.
enum ScratchFolder {
  static func with<T>(_ body: (String) throws(DeliveryFailure) -> T) throws(DeliveryFailure) -> T {
    var template = Array("/tmp/jobdrop-doctor-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }),
      let temporary = try? DirectoryHandle(path: "/tmp")
    else { throw DeliveryFailure(description: "cannot make a temporary folder in /tmp") }
    let path = String(cString: made)
    defer { try? temporary.removeTree(FileName(String(path.dropFirst(5)))) }  // after "/tmp/"
    return try body(path)
  }
}
