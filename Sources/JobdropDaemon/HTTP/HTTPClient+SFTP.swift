import CCurl
import JobdropCrypto

#if canImport(Glibc)
  import Glibc
#endif

/// SFTP through the same libcurl handle (libssh2 underneath): key authentication, the server's host key
/// pinned by its SHA-256 (no match, nothing sent), an upload under a temp name renamed into place once
/// complete, and a remote file's SHA-256 read back.
extension HTTPClient {
  /// Where and as whom an SFTP call goes.
  struct SFTPLogin {
    var host: String
    var port: Int
    var user: String
    var privateKeyFile: String
    /// The private key's passphrase, when it is encrypted.
    var passphrase: String?
    /// A known_hosts file holding the pinned host key (its type is asked for in the key exchange).
    var knownHostsFile: String
    /// The pinned host key's type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`).
    var hostKeyType: String
    /// The host key's SHA-256, base64 without padding (OpenSSH's `SHA256:` form without the prefix).
    var hostKeySHA256: String
  }

  /// Why an SFTP call failed, in words naming the host (never a key).
  struct SFTPFailure: Error, CustomStringConvertible {
    var description: String
    /// The remote name is taken (the rename was refused).
    var nameTaken = false
  }

  /// Uploads `size` bytes of `descriptor` to `folder/name`: written as `folder/.name.part`, then renamed.
  /// Returns the SHA-256 of the bytes sent (hashed as they are read, not in a pass of their own).
  func sftpUpload(_ login: SFTPLogin, folder: String, name: String, descriptor: Int32, size: Int64)
    -> Result<String, SFTPFailure>
  {
    let temporary = "\(folder)/.\(name).part"
    let transfer = Transfer(limit: 64 * 1024)
    transfer.file = descriptor
    transfer.fileSize = size
    transfer.digest = SHA256Digest()
    var quote: UnsafeMutablePointer<curl_slist>?
    quote = curl_slist_append(quote, "rename \"\(temporary)\" \"\(folder)/\(name)\"")
    defer { curl_slist_free_all(quote) }
    let code = perform(login, path: temporary, transfer: transfer) { handle in
      jobdrop_curl_set_long(handle, CURLOPT_UPLOAD, 1)
      // libssh2 keeps as many SFTP writes in flight as the buffer holds: 2 MiB (libcurl's largest) instead
      // of 64 KiB took a 935 MB delivery on 127.0.0.1 from 112 to … MB/s (scripts/bench-delivery.py).
      jobdrop_curl_set_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, 2 << 20)
      jobdrop_curl_set_size(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(size))
      jobdrop_curl_set_pointer(handle, CURLOPT_POSTQUOTE, quote)
      jobdrop_curl_set_read(handle) { buffer, size, count, context in
        Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().read(into: buffer, size * count)
      }
    }
    if code == CURLE_OK {
      // Read once, in order, to the end (libcurl never rewinds an SFTP upload): the digest is the file's.
      if transfer.offset == size, let sha256 = transfer.digest?.finalize() { return .success(sha256) }
      return SHA256Digest.hex(of: descriptor).map { .success($0) }
        ?? .failure(SFTPFailure(description: "cannot read \(name) again"))
    }
    if code == CURLE_QUOTE_ERROR {
      return .failure(
        SFTPFailure(description: "\(login.host): cannot rename the upload into place", nameTaken: true))
    }
    return .failure(failure(code, login))
  }

  /// The SHA-256 of the remote file `path`, or `nil` if there is none.
  func sftpHash(_ login: SFTPLogin, path: String) -> Result<String?, SFTPFailure> {
    let digest = HashingTransfer()
    let code = perform(login, path: path, transfer: digest.transfer) { handle in
      jobdrop_curl_set_write(handle) { data, size, count, context in
        let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
        transfer.digest?.update(UnsafeRawBufferPointer(start: data, count: size * count))
        return size * count
      }
    }
    if code == CURLE_REMOTE_FILE_NOT_FOUND { return .success(nil) }
    guard code == CURLE_OK else { return .failure(failure(code, login)) }
    return .success(digest.transfer.digest?.finalize())
  }

  /// Logs in (checking the host key) and asks for the file system of `folder` (`statvfs`): `nil` when
  /// the folder is there, or why not. Nothing is written.
  func sftpProbe(_ login: SFTPLogin, folder: String) -> SFTPFailure? {
    var quote: UnsafeMutablePointer<curl_slist>?
    quote = curl_slist_append(quote, "statvfs \"\(folder)\"")
    defer { curl_slist_free_all(quote) }
    let code = perform(
      login, path: folder.hasSuffix("/") ? folder : folder + "/", transfer: Transfer(limit: 1 << 20)
    ) {
      handle in
      jobdrop_curl_set_long(handle, CURLOPT_NOBODY, 1)
      jobdrop_curl_set_pointer(handle, CURLOPT_QUOTE, quote)
    }
    guard code != CURLE_OK else { return nil }
    if code == CURLE_QUOTE_ERROR {
      return SFTPFailure(description: "\(login.host):\(login.port): the folder \(folder) is not there")
    }
    return failure(code, login)
  }

  /// Removes the remote file `path` (a temp file left behind); failures are ignored.
  func sftpRemove(_ login: SFTPLogin, path: String) {
    var quote: UnsafeMutablePointer<curl_slist>?
    quote = curl_slist_append(quote, "rm \"\(path)\"")
    defer { curl_slist_free_all(quote) }
    let folder = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) + "/"
    _ = perform(login, path: folder, transfer: Transfer(limit: 1 << 20)) { handle in
      jobdrop_curl_set_long(handle, CURLOPT_NOBODY, 1)
      jobdrop_curl_set_pointer(handle, CURLOPT_QUOTE, quote)
    }
  }

  private func perform(
    _ login: SFTPLogin, path: String, transfer: Transfer, configure: (UnsafeMutableRawPointer) -> Void
  ) -> CURLcode {
    curl_easy_reset(handle)
    defer { curl_easy_reset(handle) }
    let context = Unmanaged.passUnretained(transfer).toOpaque()
    let url = "sftp://\(login.host):\(login.port)" + HTTPClient.escapePath(path)
    return withExtendedLifetime(transfer) {
      url.withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_URL, $0) }
      login.user.withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_USERNAME, $0) }
      "sftp".withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_PROTOCOLS_STR, $0) }
      jobdrop_curl_set_long(handle, CURLOPT_SSH_AUTH_TYPES, Int(CURLSSH_AUTH_PUBLICKEY))
      login.privateKeyFile.withCString {
        _ = jobdrop_curl_set_pointer(handle, CURLOPT_SSH_PRIVATE_KEYFILE, $0)
      }
      login.passphrase?.withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_KEYPASSWD, $0) }
      login.knownHostsFile.withCString { _ = jobdrop_curl_set_pointer(handle, CURLOPT_SSH_KNOWNHOSTS, $0) }
      login.hostKeySHA256.withCString {
        _ = jobdrop_curl_set_pointer(handle, CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, $0)
      }
      jobdrop_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT, 10)
      jobdrop_curl_set_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024)
      jobdrop_curl_set_long(handle, CURLOPT_LOW_SPEED_TIME, 30)
      jobdrop_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
      jobdrop_curl_set_pointer(handle, CURLOPT_READDATA, context)
      jobdrop_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
      jobdrop_curl_set_write(handle) { data, size, count, context in
        Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().received(data, size * count)
      }
      configure(handle)
      return curl_easy_perform(handle)
    }
  }

  private func failure(_ code: CURLcode, _ login: SFTPLogin) -> SFTPFailure {
    let host = "\(login.host):\(login.port)"
    switch code {
    case CURLE_PEER_FAILED_VERIFICATION:
      return SFTPFailure(
        description:
          "\(host): the server's host key does not match host_key (expected SHA256:\(login.hostKeySHA256)); nothing was sent"
      )
    case CURLE_LOGIN_DENIED:
      return SFTPFailure(
        description:
          "\(host): the login was refused (user \(login.user), key private_key_file"
          + (login.passphrase == nil ? ")" : " opened with private_key_passphrase_file)"))
    case CURLE_REMOTE_FILE_NOT_FOUND, CURLE_REMOTE_ACCESS_DENIED, CURLE_UPLOAD_FAILED:
      return SFTPFailure(
        description: "\(host): the folder cannot be written (\(String(cString: curl_easy_strerror(code))))")
    case CURLE_FAILED_INIT where login.hostKeyType == "ssh-rsa":
      // libssh2 1.10 cannot take an RSA host key from OpenSSH 8.8 or later (no SHA-1 signatures).
      return SFTPFailure(
        description:
          "\(host): the key exchange failed with the RSA host key pinned; pin the server's Ed25519 or ECDSA key "
          + "instead (ssh-keyscan -t ed25519,ecdsa)")
    default:
      return SFTPFailure(description: "\(host): \(String(cString: curl_easy_strerror(code)))")
    }
  }

  /// `path` with every byte but unreserved ones and `/` percent-encoded, for an `sftp://` URL.
  static func escapePath(_ path: String) -> String {
    var escaped = ""
    for byte in path.utf8 {
      let plain =
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
        || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E || byte == 0x2F
      escaped +=
        plain ? String(UnicodeScalar(byte)) : "%" + String(byte, radix: 16, uppercase: true).leftPadded2
    }
    return escaped
  }
}

/// A transfer whose received bytes are hashed, not kept.
private final class HashingTransfer {
  let transfer = Transfer(limit: 0)
  init() { transfer.digest = SHA256Digest() }
}

extension String {
  fileprivate var leftPadded2: String { count < 2 ? "0" + self : self }
}
