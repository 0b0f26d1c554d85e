import JobdropExport
import JobdropModel
import JobdropPostgres
import JobdropState
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `jobdrop doctor`: checks a deployment as `run` would see it, one line a check with what to do, and
/// changes nothing. A check of something not configured is skipped; a warning does not fail.
public struct Doctor {
  public enum Outcome: String, Sendable, Codable {
    case ok, warn, fail, skip
  }

  public struct Check: Sendable, Codable {
    public var name: String
    public var outcome: Outcome
    public var message: String
  }

  let configuration: Configuration
  /// The folder `jobdrop serve-config nginx --out` wrote (`--nginx-config`), to check it is in step.
  let nginxFolder: String?

  public init(configuration: Configuration, nginxFolder: String? = nil) {
    self.configuration = configuration
    self.nginxFolder = nginxFolder
  }

  /// Every check, in order.
  public func run() -> [Check] {
    var checks = [inbox(), spool(), sameFileSystem(), outbox()]
    let (partnersCheck, partners) = self.partners()
    checks.append(partnersCheck)
    checks.append(inotify(folders: 1 + (partners?.partners.count ?? 0)))
    checks.append(source())
    checks.append(webServer(partners))
    checks.append(bucket())
    checks.append(webhooks(partners))
    checks.append(deliveries(partners))
    return checks
  }

  static func check(_ name: String, _ outcome: Outcome, _ message: String) -> Check {
    Check(name: name, outcome: outcome, message: message)
  }

  private func inbox() -> Check {
    let path = configuration.inbox
    guard let info = Doctor.status(path) else {
      return Doctor.check(
        "inbox", .fail, "\(path) does not exist: create it (mkdir -p \(path)) or set --inbox")
    }
    guard info.st_mode & S_IFMT == S_IFDIR else {
      return Doctor.check("inbox", .fail, "\(path) is not a directory")
    }
    return Doctor.check("inbox", .ok, "\(path) is a directory")
  }

  private func spool() -> Check {
    if configuration.sharedSpool != nil {
      do {
        let table = try PostgresSpool(
          url: configuration.sharedSpool!, node: "doctor", leaseSeconds: 30, reading: true)
        return Doctor.check(
          "spool", .ok, "the shared table at \(table.database) is reachable and not newer than this jobdrop")
      } catch {
        return Doctor.check("spool", .fail, "the shared table: \(error)")
      }
    }
    let path = configuration.spool
    guard let info = Doctor.status(path) else {
      return Doctor.check("spool", .warn, "\(path) does not exist yet: jobdrop run creates it (mode 0700)")
    }
    guard let root = try? DirectoryHandle(path: path) else {
      return Doctor.check("spool", .fail, "\(path) cannot be opened: check its owner and mode")
    }
    do {
      try SpoolFormat.check(root)
    } catch {
      return Doctor.check("spool", .fail, "\(error)")
    }
    if info.st_mode & 0o077 != 0 {
      let mode = String(info.st_mode & 0o7777, radix: 8)
      return Doctor.check(
        "spool", .warn,
        "\(path) is mode 0\(mode): make it 0700 (chmod 700 \(path)); it holds every partner's requests")
    }
    let version = (try? SpoolFormat.version(of: root)) ?? 1
    return Doctor.check(
      "spool", .ok,
      version < SpoolFormat.current
        ? "\(path) is format \(version), upgraded to \(SpoolFormat.current) at the next start"
        : "\(path) is format \(version), mode 0700")
  }

  private func sameFileSystem() -> Check {
    var spool = configuration.spool
    while Doctor.status(spool) == nil, let slash = spool.lastIndex(of: "/"), slash > spool.startIndex {
      spool = String(spool[..<slash])
    }
    guard let inbox = Doctor.status(configuration.inbox), let spoolInfo = Doctor.status(spool) else {
      return Doctor.check("file system", .skip, "the inbox or the spool's folder is missing")
    }
    guard inbox.st_dev == spoolInfo.st_dev else {
      return Doctor.check(
        "file system", .fail,
        "inbox \(configuration.inbox) and spool \(configuration.spool) are on different file systems: claiming a request is a rename; put them on one"
      )
    }
    return Doctor.check("file system", .ok, "inbox and spool are on one file system")
  }

  private func outbox() -> Check {
    let path = configuration.outbox
    guard Doctor.status(path) != nil else {
      return Doctor.check("outbox", .warn, "\(path) does not exist yet: jobdrop run creates it")
    }
    guard access(path, W_OK) == 0 else {
      return Doctor.check("outbox", .fail, "\(path) is not writable by this user: fix its owner or mode")
    }
    return Doctor.check("outbox", .ok, "\(path) is writable")
  }

  private func partners() -> (Check, PartnerList?) {
    guard let path = configuration.partnersPath else {
      return (Doctor.check("partners", .skip, "no --partners"), nil)
    }
    if let info = Doctor.status(path), info.st_mode & 0o007 != 0 {
      let mode = String(info.st_mode & 0o7777, radix: 8)
      return (
        Doctor.check(
          "partners", .fail,
          "\(path) is mode 0\(mode), readable by every user: its tokens are secrets (chmod 600 \(path))"),
        nil
      )
    }
    do {
      let list = try PartnerList.load(path: path, catalog: configuration.catalog)
      return (Doctor.check("partners", .ok, "\(path): \(list.partners.count) partners"), list)
    } catch {
      return (Doctor.check("partners", .fail, "\(error)"), nil)
    }
  }

  private func inotify(folders: Int) -> Check {
    func limit(_ name: String) -> Int? {
      (try? FileReader.read(path: "/proc/sys/fs/inotify/" + name, limit: 64)).flatMap {
        Int(String(decoding: $0.filter { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self))
      }
    }
    guard let watches = limit("max_user_watches"), let instances = limit("max_user_instances") else {
      return Doctor.check("inotify", .skip, "cannot read /proc/sys/fs/inotify")
    }
    // One watch a drop folder, and room for the SFTP server's and the desktop's own.
    if watches < folders + 64 {
      return Doctor.check(
        "inotify", .warn,
        "fs.inotify.max_user_watches is \(watches) for \(folders) folders: raise it (sysctl fs.inotify.max_user_watches=65536)"
      )
    }
    if instances < 8 {
      return Doctor.check(
        "inotify", .warn, "fs.inotify.max_user_instances is \(instances): raise it to 128 or more")
    }
    return Doctor.check(
      "inotify", .ok, "\(watches) watches and \(instances) instances for \(folders) folders")
  }

  private func source() -> Check {
    let catalog = configuration.catalog
    var missing: [String] = []
    do {
      switch configuration.source {
      case .sqlite(let path):
        guard Doctor.status(path) != nil else {
          return Doctor.check(
            "source", .fail, "\(path) does not exist: point --source at the commerce database")
        }
        let database = try SQLiteDatabase(path: path)
        for jobType in catalog.jobTypes {
          let query = try ExportQuery(
            jobType: jobType, request: ExportRequest(jobType: jobType.name), dialect: .sqlite)
          do { _ = try database.prepare(query.sql + " LIMIT 0") } catch {
            missing.append("\(jobType.name) (\(error))")
          }
        }
      case .postgres(let url):
        let connection = try PostgresConnection(conninfo: url, database: configuration.source.description)
        for jobType in catalog.jobTypes {
          let query = try ExportQuery(
            jobType: jobType, request: ExportRequest(jobType: jobType.name), dialect: .postgres)
          do { _ = try connection.execute(query.sql + " LIMIT 0") } catch {
            missing.append("\(jobType.name) (\(error))")
          }
        }
      }
    } catch {
      return Doctor.check("source", .fail, "\(configuration.source): \(error)")
    }
    guard missing.isEmpty else {
      return Doctor.check(
        "source", .fail,
        "\(configuration.source) cannot run \(missing.joined(separator: "; ")): load the commerce data or fix the catalog"
      )
    }
    return Doctor.check(
      "source", .ok, "\(configuration.source) has what all \(catalog.jobTypes.count) job types read")
  }

  /// The web server's configuration as `serve-config` would write it now (same listen and outbox, the
  /// partners file as it is): a partner added or a token changed since makes it out of step.
  private func webServer(_ partners: PartnerList?) -> Check {
    guard let folder = nginxFolder else { return Doctor.check("web server", .skip, "no --nginx-config") }
    let path = folder + "/jobdrop.conf"
    guard let bytes = try? FileReader.read(path: path, limit: 4 << 20) else {
      return Doctor.check(
        "web server", .fail,
        "\(path) cannot be read: write it with jobdrop serve-config nginx --out \(folder)")
    }
    let text = String(decoding: bytes, as: UTF8.self)
    func directive(_ name: String) -> String? {
      for line in text.split(separator: "\n") {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        if words.count == 2, words[0] == name, words[1].hasSuffix(";") { return String(words[1].dropLast()) }
      }
      return nil
    }
    // With partners the root is each partner's site: `<outbox>/$jobdrop_partner`.
    let root = directive("root").map { $0.hasSuffix("/$jobdrop_partner") ? String($0.dropLast(17)) : $0 }
    guard let listen = directive("listen"), let root else {
      return Doctor.check("web server", .warn, "\(path) was not written by jobdrop serve-config nginx")
    }
    let site = NginxSite(listen: listen, outbox: root, partners: partners, scriptPath: folder + "/jobdrop.js")
    var stale: [String] = []
    if site.configuration != text { stale.append("jobdrop.conf") }
    if partners != nil {
      let script = (try? FileReader.read(path: folder + "/jobdrop.js", limit: 4 << 20)).map {
        String(decoding: $0, as: UTF8.self)
      }
      if script != site.script { stale.append("jobdrop.js") }
    }
    guard stale.isEmpty else {
      return Doctor.check(
        "web server", .fail,
        "\(stale.joined(separator: " and ")) in \(folder) are out of step with the partners file: run jobdrop serve-config nginx --outbox \(root) --listen \(listen) --out \(folder) and reload nginx"
      )
    }
    return Doctor.check("web server", .ok, "\(folder) is what serve-config writes for these partners")
  }

  private func bucket() -> Check {
    guard let target = configuration.publish else { return Doctor.check("bucket", .skip, "no --publish") }
    do {
      try target.checkCredentials()
      return Doctor.check("bucket", .ok, "credentials for \(target) found")
    } catch {
      return Doctor.check("bucket", .fail, "\(error)")
    }
  }

  private func webhooks(_ partners: PartnerList?) -> Check {
    var targets = (partners?.partners ?? []).compactMap { partner in
      partner.webhook.map { (partner.id, $0.url) }
    }
    if let single = configuration.webhook { targets.append(("-", single.url)) }
    guard !targets.isEmpty else { return Doctor.check("webhooks", .skip, "no webhook configured") }
    var unreachable: [String] = []
    for (partner, url) in targets {
      guard let (host, port) = Doctor.hostAndPort(url) else { continue }
      if let reason = Doctor.connect(host: host, port: port) {
        unreachable.append("\(partner == "-" ? "" : "partner '\(partner)': ")\(host):\(port) (\(reason))")
      }
    }
    guard unreachable.isEmpty else {
      return Doctor.check(
        "webhooks", .warn,
        "cannot connect to \(unreachable.joined(separator: ", ")): events wait and are retried for 24 h")
    }
    return Doctor.check("webhooks", .ok, "\(targets.count) webhook receivers accept connections")
  }

  static func status(_ path: String) -> stat? {
    var info = stat()
    return stat(path, &info) == 0 ? info : nil
  }

  /// The host and port of an http(s) URL.
  static func hostAndPort(_ url: String) -> (String, UInt16)? {
    let https = url.lowercased().hasPrefix("https://")
    guard let rest = url.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first else {
      return nil
    }
    let authority = rest.split(separator: "@").last ?? rest
    let parts = authority.split(separator: ":")
    let port = parts.count > 1 ? UInt16(parts[1]) : (https ? 443 : 80)
    guard let port, let host = parts.first else { return nil }
    return (String(host), port)
  }

  /// Whether a TCP connection to `host:port` opens within 3 s: `nil`, or why not.
  static func connect(host: String, port: UInt16) -> String? {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var found: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &found) == 0, let first = found else {
      return "the name does not resolve"
    }
    defer { freeaddrinfo(found) }
    let socket = Glibc.socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { return "no socket" }
    defer { close(socket) }
    var timeout = timeval(tv_sec: 3, tv_usec: 0)
    setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    if Glibc.connect(socket, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
      return String(cString: strerror(errno))
    }
    return nil
  }
}
