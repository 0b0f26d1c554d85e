import JobdropExport
import JobdropModel
import JobdropState
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Everything a jobdrop command runs with, resolved once at start from flags, then `JOBDROP_*`
/// environment variables, then defaults, and validated.
///
/// | key | flag | environment | default |
/// |---|---|---|---|
/// | inbox | `--inbox` | `JOBDROP_INBOX` | `./inbox` |
/// | spool | `--spool` | `JOBDROP_SPOOL` | `./spool` (or `postgres://…`: a job table several nodes share) |
/// | local spool (with a shared one) | `--local-spool` | `JOBDROP_LOCAL_SPOOL` | `./spool` |
/// | lease (with a shared spool) | `--lease` | `JOBDROP_LEASE` | `30s` |
/// | node name (with a shared spool) | | `JOBDROP_NODE` | `<host name>:<local spool path>` |
/// | outbox | `--outbox` | `JOBDROP_OUTBOX` | `./outbox` |
/// | source | `--source` | `JOBDROP_SOURCE` | `sqlite:data/store.sqlite` |
/// | catalog | `--catalog` | `JOBDROP_CATALOG` | the built-in catalog |
/// | base URL | `--base-url` | `JOBDROP_BASE_URL` | none (relative links) |
/// | workers | `--workers` | `JOBDROP_WORKERS` | 1 |
/// | ttl | `--ttl` | `JOBDROP_TTL` | `7d` |
/// | settle | `--settle` | `JOBDROP_SETTLE` | `2s` |
/// | grace | `--grace` | `JOBDROP_GRACE` | `10s` (0 to 10m) |
/// | retries | `--retries` | `JOBDROP_RETRIES` | 4 (transient source failures) |
/// | empty ok | `--empty-ok` | `JOBDROP_EMPTY_OK=1` | off |
/// | raw CSV | `--raw-csv` | `JOBDROP_RAW_CSV=1` | off |
/// | partners | `--partners` | `JOBDROP_PARTNERS` | none (one partner: the inbox and outbox themselves) |
/// | webhook | `--webhook-url`, `--webhook-secret-file` | `JOBDROP_WEBHOOK_URL`, `JOBDROP_WEBHOOK_SECRET_FILE` | none |
/// | publish | `--publish`, `--s3-endpoint` | `JOBDROP_PUBLISH`, the AWS CLI's variables and files | none |
/// | s3 part size | `--s3-part-size` | `JOBDROP_S3_PART_SIZE` | 64MiB |
public struct Configuration: Sendable {
  public var inbox: String
  /// The local spool folder (with a shared spool: this node's own state, beside the shared table).
  public var spool: String
  /// The PostgreSQL job table several nodes share (`--spool postgres://…`), if any.
  public var sharedSpool: String?
  /// How long a node's claim on a job of the shared spool lasts without renewal, in seconds.
  public var leaseSeconds: Int = 30
  /// This node's name in the shared spool (`JOBDROP_NODE`), when set.
  public var nodeName: String?
  public var outbox: String
  public var source: DataSourceLocation
  /// The job type catalog: the built-in one, or the operator's `--catalog` file (validated at start).
  public var catalog: Catalog
  /// The catalog file, when one was given.
  public var catalogPath: String?
  public var baseURL: String?
  public var workers: Int
  /// How long jobs stay in the outbox after they were created, in seconds.
  public var ttlSeconds: Int64
  /// How long a cut-short request must stay unchanged before it is failed, in milliseconds.
  public var settleMilliseconds: Int64
  /// How long a claimed request file stays in the inbox for a client that looks at its upload afterwards.
  public var graceMilliseconds: Int64
  /// How many times a job is tried again after a transient source failure (1 s, 2 s, 4 s, … apart).
  public var retries: Int
  /// A filter that matches nothing is a success with a header-only file.
  public var emptyOK: Bool
  /// Turn off the CSV formula-injection guard.
  public var rawCSV: Bool
  /// The partners file, with `--partners`: one drop folder and one site per partner.
  public var partnersPath: String?
  /// Where finished jobs are announced without partners (`--webhook-url`, `--webhook-secret-file`).
  public var webhook: WebhookTarget?
  /// The bucket the outbox is also published to (`--publish s3://BUCKET[/PREFIX]`).
  public var publish: S3Target?
  /// Multiplies the webhook retry delays (`JOBDROP_WEBHOOK_RETRY_SCALE`, for tests; default 1).
  public var webhookRetryScale: Double = 1
  /// Where successful exports are pushed without partners (`--deliver URL` and its key options).
  public var deliver: DeliveryTarget?
  /// Where `run` writes its Prometheus metrics (`--metrics`).
  public var metricsFile: String?
  /// Where `run` serves `/metrics` (`--metrics-listen`): an IPv4 address and a port.
  public var metricsListen: (host: String, port: UInt16)?

  /// The values given on the command line; `nil` where the flag was not given.
  public struct Flags: Sendable {
    public var inbox, spool, outbox, source, catalog, baseURL, ttl, settle, grace, partners: String?
    public var webhookURL, webhookSecretFile: String?
    public var publish, s3Endpoint, s3PartSize: String?
    public var deliver, deliverHostKey, deliverPrivateKeyFile, deliverEncryptTo, deliverEndpoint: String?
    public var deliverCredentialsFile, deliverPrivateKeyPassphraseFile: String?
    public var metrics, metricsListen: String?
    public var localSpool, lease: String?
    public var workers: Int?
    public var retries: Int?
    public var emptyOK = false
    public var rawCSV = false

    public init() {}
  }

  /// Resolves flags over `environment` over defaults and validates the result.
  public init(flags: Flags, environment: [String: String]) throws(ConfigurationError) {
    func pick(_ flag: String?, _ variable: String, _ fallback: String) -> String {
      flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }
    func enabled(_ variable: String) -> Bool {
      ["1", "true", "yes", "on"].contains(environment[variable]?.lowercased() ?? "")
    }
    inbox = pick(flags.inbox, "JOBDROP_INBOX", "inbox")
    spool = pick(flags.spool, "JOBDROP_SPOOL", "spool")
    if spool.hasPrefix("postgres://") || spool.hasPrefix("postgresql://") {
      sharedSpool = spool
      spool = pick(flags.localSpool, "JOBDROP_LOCAL_SPOOL", "spool")
      let leaseText = pick(flags.lease, "JOBDROP_LEASE", "30s")
      guard let lease = DurationText.milliseconds(leaseText, in: 3000...3_600_000) else {
        throw ConfigurationError(
          "--lease: expected a duration from 3s to 1h, such as 30s or 2m, got '\(leaseText)'")
      }
      leaseSeconds = Int(lease / 1000)
      nodeName = environment["JOBDROP_NODE"].flatMap { $0.isEmpty ? nil : $0 }
    } else if flags.localSpool != nil || flags.lease != nil {
      throw ConfigurationError("--local-spool and --lease go with a shared spool: --spool postgres://…")
    }
    outbox = pick(flags.outbox, "JOBDROP_OUTBOX", "outbox")
    source = try DataSourceLocation(parsing: pick(flags.source, "JOBDROP_SOURCE", "sqlite:data/store.sqlite"))
    let catalogPath = pick(flags.catalog, "JOBDROP_CATALOG", "")
    self.catalogPath = catalogPath.isEmpty ? nil : catalogPath
    do {
      catalog =
        try self.catalogPath.map { path throws(CatalogError) in try Catalog.load(path: path) } ?? .builtIn
    } catch {
      throw ConfigurationError("--catalog: \(error)")
    }
    let base = pick(flags.baseURL, "JOBDROP_BASE_URL", "")
    baseURL = base.isEmpty ? nil : base
    if let baseURL, !(baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://")) {
      throw ConfigurationError("--base-url: expected an http:// or https:// URL, got '\(baseURL)'")
    }
    let workerText = flags.workers.map(String.init) ?? pick(nil, "JOBDROP_WORKERS", "1")
    guard let workers = Int(workerText), (1...64).contains(workers) else {
      throw ConfigurationError("--workers: expected a number from 1 to 64, got '\(workerText)'")
    }
    self.workers = workers
    let ttlText = pick(flags.ttl, "JOBDROP_TTL", "7d")
    guard let ttl = DurationText.milliseconds(ttlText, in: 1000...Configuration.longestTTL) else {
      throw ConfigurationError(
        "--ttl: expected a duration from 1s to 36500d, such as 7d, 36h or 90s, got '\(ttlText)'")
    }
    ttlSeconds = ttl / 1000
    let settleText = pick(flags.settle, "JOBDROP_SETTLE", "2s")
    guard let settle = DurationText.milliseconds(settleText, in: 1...Configuration.longestSettle) else {
      throw ConfigurationError(
        "--settle: expected a duration from 1ms to 1h, such as 2s or 500ms, got '\(settleText)'")
    }
    settleMilliseconds = settle
    let graceText = pick(flags.grace, "JOBDROP_GRACE", "10s")
    guard let grace = DurationText.milliseconds(graceText, in: 0...600_000) else {
      throw ConfigurationError(
        "--grace: expected 0 or a duration up to 10m, such as 10s, got '\(graceText)'")
    }
    graceMilliseconds = grace
    let retryText = flags.retries.map(String.init) ?? pick(nil, "JOBDROP_RETRIES", "4")
    guard let retries = Int(retryText), (0...20).contains(retries) else {
      throw ConfigurationError("--retries: expected a number from 0 to 20, got '\(retryText)'")
    }
    self.retries = retries
    emptyOK = flags.emptyOK || enabled("JOBDROP_EMPTY_OK")
    rawCSV = flags.rawCSV || enabled("JOBDROP_RAW_CSV")
    let partners = pick(flags.partners, "JOBDROP_PARTNERS", "")
    partnersPath = partners.isEmpty ? nil : partners
    let url = pick(flags.webhookURL, "JOBDROP_WEBHOOK_URL", "")
    let secretFile = pick(flags.webhookSecretFile, "JOBDROP_WEBHOOK_SECRET_FILE", "")
    if !url.isEmpty || !secretFile.isEmpty {
      if partnersPath != nil {
        throw ConfigurationError(
          "--webhook-url: with --partners, each partner's webhook is in the partners file")
      }
      guard WebhookTarget.isAllowed(url) else {
        throw ConfigurationError("--webhook-url: expected an http:// or https:// URL, got '\(url)'")
      }
      guard !secretFile.isEmpty else {
        throw ConfigurationError("--webhook-url: needs --webhook-secret-file (a file holding whsec_…)")
      }
      webhook = WebhookTarget(url: url, secret: try Configuration.readSecret(secretFile))
    }
    let publish = pick(flags.publish, "JOBDROP_PUBLISH", "")
    if !publish.isEmpty {
      self.publish = try S3Target(parsing: publish, endpoint: flags.s3Endpoint, environment: environment)
      let partText = pick(flags.s3PartSize, "JOBDROP_S3_PART_SIZE", "")
      if !partText.isEmpty {
        guard let size = ByteSize.parse(partText), (5 << 20...5 << 30).contains(size) else {
          throw ConfigurationError(
            "--s3-part-size: expected a size from 5MiB to 5GiB (e.g. 64MiB), got '\(partText)'")
        }
        self.publish?.partSize = size
      }
    } else if flags.s3Endpoint != nil {
      throw ConfigurationError("--s3-endpoint: needs --publish s3://BUCKET[/PREFIX]")
    } else if flags.s3PartSize != nil {
      throw ConfigurationError("--s3-part-size: needs --publish s3://BUCKET[/PREFIX]")
    }
    let metrics = pick(flags.metrics, "JOBDROP_METRICS", "")
    if !metrics.isEmpty {
      guard !metrics.hasSuffix("/") else {
        throw ConfigurationError(
          "--metrics: expected a file, such as /var/lib/node_exporter/jobdrop.prom, got '\(metrics)'")
      }
      metricsFile = metrics
    }
    let listen = pick(flags.metricsListen, "JOBDROP_METRICS_LISTEN", "")
    if !listen.isEmpty {
      let parts = listen.split(separator: ":")
      guard parts.count == 2, let port = UInt16(parts[1]), port > 0 else {
        throw ConfigurationError(
          "--metrics-listen: expected ADDR:PORT, such as 127.0.0.1:9464, got '\(listen)'")
      }
      metricsListen = (String(parts[0]), port)
    }
    if let url = flags.deliver {
      guard flags.partners == nil && environment["JOBDROP_PARTNERS"] == nil else {
        throw ConfigurationError("--deliver: with --partners each partner's entry says where (its 'deliver')")
      }
      do {
        deliver = try DeliveryTarget(
          url: url, hostKey: flags.deliverHostKey, privateKeyFile: flags.deliverPrivateKeyFile,
          privateKeyPassphraseFile: flags.deliverPrivateKeyPassphraseFile, encryptTo: flags.deliverEncryptTo,
          endpoint: flags.deliverEndpoint,
          credentialsFile: flags.deliverCredentialsFile)
      } catch {
        let flag = [
          "deliver.url": "--deliver", "deliver.host_key": "--deliver-host-key",
          "deliver.private_key_file": "--deliver-private-key-file",
        ].first { error.message.hasPrefix($0.key) }
        throw ConfigurationError(
          flag.map { $0.value + String(error.message.dropFirst($0.key.count)) } ?? error.message)
      }
    }
    if let text = environment["JOBDROP_WEBHOOK_RETRY_SCALE"], !text.isEmpty {
      guard let scale = Double(text), scale > 0, scale <= 1 else {
        throw ConfigurationError(
          "JOBDROP_WEBHOOK_RETRY_SCALE: expected a number above 0 and at most 1, got '\(text)'")
      }
      webhookRetryScale = scale
    }
  }

  /// The webhook secret in `path`: `whsec_…` on its own (a trailing newline is fine), in a file only
  /// jobdrop can read.
  static func readSecret(_ path: String) throws(ConfigurationError) -> WebhookSecret {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw ConfigurationError("--webhook-secret-file: \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
      throw ConfigurationError("--webhook-secret-file: \(path): not a regular file")
    }
    if info.st_mode & 0o077 != 0 {
      let mode = String(info.st_mode & 0o7777, radix: 8)
      throw ConfigurationError(
        "--webhook-secret-file: \(path) is open to group or others (mode 0\(mode)); chmod 600 \(path)")
    }
    guard let bytes = try? FileReader.readAll(descriptor, limit: 4096, path: path), bytes.count < 4096,
      let secret = WebhookSecret(String(decoding: bytes, as: UTF8.self).trimmingWhitespace)
    else {
      throw ConfigurationError("--webhook-secret-file: \(path): \(WebhookSecret.expected)")
    }
    return secret
  }

  /// Loads and checks the partners file, when one is configured (commands that work the spool do this
  /// at start; `status` and `validate` do not need the tokens).
  public func loadPartners() throws(ConfigurationError) -> PartnerRegistry? {
    guard let partnersPath else { return nil }
    do {
      return try PartnerRegistry(path: partnersPath, catalog: catalog)
    } catch {
      throw ConfigurationError("--partners: \(error)")
    }
  }

  /// Who has a webhook now: each partner as the partners file in force says, or `--webhook-url`.
  public func webhookTargets(_ partners: PartnerRegistry?) -> @Sendable (String?) -> WebhookTarget? {
    if let partners {
      return { id in id.flatMap { partners.partner(id: $0)?.webhook } }
    }
    let single = webhook
    return { id in id == nil ? single : nil }
  }

  /// Where each partner's (or, without partners, the one) successful exports are pushed.
  public func deliveryTargets(_ partners: PartnerRegistry?) -> @Sendable (String?) -> DeliveryTarget? {
    if let partners {
      return { id in id.flatMap { partners.partner(id: $0)?.deliver } }
    }
    let single = deliver
    return { id in id == nil ? single : nil }
  }

  /// The longest `--ttl`: 100 years (expiry times stay far inside what timestamps can hold).
  public static let longestTTL: Int64 = 36_500 * 86_400_000
  /// The longest `--settle`: an hour.
  public static let longestSettle: Int64 = 3_600_000
}

extension String {
  /// Without leading and trailing spaces, tabs and line ends.
  fileprivate var trimmingWhitespace: String {
    String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
  }
}
