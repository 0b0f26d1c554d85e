import ArgumentParser
import JobdropDaemon
import JobdropModel
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

struct ServeConfigCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve-config",
    abstract: "Write the web server configuration that serves the outbox.",
    discussion: """
      Writes DIR/jobdrop.conf, a complete nginx server block (with partners: preceded by the map of
      tokens to partners, for nginx's http { } block), and with partners DIR/jobdrop.js, the sign-in of
      the Elastic Path SDKs (nginx's njs module, Debian: libnginx-mod-http-js). Both are written mode 0600:
      they hold the partners' tokens, and nginx reads its configuration as root.

      Examples:
        jobdrop serve-config nginx --outbox /srv/jobdrop/outbox --listen 8080 --out /etc/nginx/jobdrop
        jobdrop serve-config nginx --partners /etc/jobdrop/partners.json --outbox /srv/jobdrop/outbox \\
          --listen 127.0.0.1:8080 --out /etc/nginx/jobdrop
      """
  )

  enum Server: String, ExpressibleByArgument { case nginx }

  @Argument(help: "The web server: nginx.")
  var server: Server

  @Option(help: "The partners file (env JOBDROP_PARTNERS); without it, the single-partner outbox.")
  var partners: String?

  @Option(help: "The outbox folder, as the web server sees it (absolute).")
  var outbox: String

  @Option(help: "What nginx listens on: PORT or ADDR:PORT.")
  var listen: String

  @Option(help: "The folder to write jobdrop.conf (and jobdrop.js) into; created 0700 when missing.")
  var out: String

  @OptionGroup var catalogOption: CatalogOption

  func validate() throws {
    guard outbox.hasPrefix("/") else {
      throw ValidationError("--outbox: give an absolute path, got '\(outbox)'")
    }
    guard out.hasPrefix("/") || !out.isEmpty else { throw ValidationError("--out: give a folder") }
    let port = listen.split(separator: ":").last.flatMap { Int($0) }
    guard let port, (1...65_535).contains(port), !listen.contains(where: { $0 == " " || $0 == ";" }) else {
      throw ValidationError("--listen: expected PORT or ADDR:PORT, got '\(listen)'")
    }
    for text in [outbox, out]
    where text.contains(where: { $0 == ";" || $0 == "\"" || $0 == "'" || $0 == "$" || $0 == " " }) {
      throw ValidationError(
        "'\(text)': a path with ; \" ' $ or spaces cannot be written into nginx's configuration")
    }
  }

  func run() throws {
    let configuration = try catalogOption.configuration()
    let partnersPath = partners ?? configuration.partnersPath
    var list: PartnerList?
    if let partnersPath {
      do {
        list = try PartnerList.load(path: partnersPath, catalog: configuration.catalog)
      } catch {
        printError("jobdrop serve-config: --partners: \(error)")
        throw ExitCode(1)
      }
    }
    var root = outbox
    while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
    let site = NginxSite(listen: listen, outbox: root, partners: list, scriptPath: "\(out)/jobdrop.js")
    do {
      let folder = try DirectoryHandle(path: out, create: true, mode: 0o700)
      try AtomicWriter.write(
        Array(site.configuration.utf8), to: FileName("jobdrop.conf"), in: folder, mode: 0o600)
      if list != nil {
        try AtomicWriter.write(Array(site.script.utf8), to: FileName("jobdrop.js"), in: folder, mode: 0o600)
      }
    } catch {
      printError("jobdrop serve-config: \(error)")
      throw ExitCode(1)
    }
    print("\(out)/jobdrop.conf" + (list == nil ? "" : " \(out)/jobdrop.js"))
  }
}
