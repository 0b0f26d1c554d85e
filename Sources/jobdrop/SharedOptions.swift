import ArgumentParser
import FoundationEssentials
import JobdropDaemon
import JobdropSystem
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// The options every command that works a spool shares.
struct SharedOptions: ParsableArguments {
  @Option(help: "The drop folder partners write requests into (env JOBDROP_INBOX; default ./inbox).")
  var inbox: String?

  @Option(
    help:
      "jobdrop's private job state; same file system as the inbox (env JOBDROP_SPOOL; default ./spool), or postgres://… for a job table several nodes share."
  )
  var spool: String?

  @Option(
    help:
      "With --spool postgres://…: this node's own state folder, same file system as the inbox (env JOBDROP_LOCAL_SPOOL; default ./spool)."
  )
  var localSpool: String?

  @Option(
    help:
      "With --spool postgres://…: how long a node's claim on a job lasts unless renewed (env JOBDROP_LEASE; default 30s)."
  )
  var lease: String?

  @Option(help: "The static site jobdrop publishes (env JOBDROP_OUTBOX; default ./outbox).")
  var outbox: String?

  @Option(help: "The commerce database: sqlite:PATH (env JOBDROP_SOURCE; default sqlite:data/store.sqlite).")
  var source: String?

  @Option(help: "A job type catalog file (JSON) instead of the built-in one (env JOBDROP_CATALOG).")
  var catalog: String?

  @Option(
    help: "Make links absolute under this URL, e.g. https://exports.example.com (env JOBDROP_BASE_URL).")
  var baseURL: String?

  @Option(help: "Jobs run at the same time (env JOBDROP_WORKERS; default 1).")
  var workers: Int?

  @Option(help: "How long finished jobs stay published, e.g. 7d, 36h, 90s (env JOBDROP_TTL; default 7d).")
  var ttl: String?

  @Option(
    help: "How long a cut-short request must stay unchanged before it fails (env JOBDROP_SETTLE; default 2s)."
  )
  var settle: String?

  @Option(
    help:
      "How long a claimed request file stays in the inbox, for clients that look at their upload afterwards (env JOBDROP_GRACE; default 10s; 0 for none)."
  )
  var grace: String?

  @Option(
    help:
      "Times a job is retried after a transient database failure, 1 s, 2 s, 4 s… apart (env JOBDROP_RETRIES; default 4)."
  )
  var retries: Int?

  @Option(
    help:
      "A partners file (JSON, mode 0600): one drop folder inbox/ID/ and one site outbox/ID/ per partner (env JOBDROP_PARTNERS)."
  )
  var partners: String?

  @Option(
    help:
      "Without partners: POST a signed event here when a job succeeds or fails (env JOBDROP_WEBHOOK_URL)."
  )
  var webhookUrl: String?

  @Option(help: "The file (mode 0600) holding the webhook's whsec_ secret (env JOBDROP_WEBHOOK_SECRET_FILE).")
  var webhookSecretFile: String?

  @Option(
    help:
      "Also publish the outbox to this bucket (s3://BUCKET[/PREFIX]; env JOBDROP_PUBLISH); credentials and region as the AWS CLI reads them."
  )
  var publish: String?

  @Option(
    help:
      "The S3 endpoint for --publish (http[s]://host[:port]; env AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL).")
  var s3Endpoint: String?

  @Option(
    help:
      "Files larger than this are put in the bucket in parts of this size, 5MiB to 5GiB (env JOBDROP_S3_PART_SIZE; default 64MiB)."
  )
  var s3PartSize: String?

  @Option(
    help:
      "Without --partners: push every successful export here too (sftp://USER@HOST[:PORT]/FOLDER or s3://BUCKET[/PREFIX])."
  )
  var deliver: String?

  @Option(help: "For an sftp:// --deliver: the server's host key, as in known_hosts ('ssh-ed25519 AAAA…').")
  var deliverHostKey: String?

  @Option(help: "For an sftp:// --deliver: the private key file jobdrop logs in with.")
  var deliverPrivateKeyFile: String?

  @Option(help: "For an sftp:// --deliver: a file whose first line is the private key's passphrase.")
  var deliverPrivateKeyPassphraseFile: String?

  @Option(help: "For --deliver: an OpenPGP public key file every delivered file is encrypted to (.pgp).")
  var deliverEncryptTo: String?

  @Option(help: "For an s3:// --deliver: the S3 endpoint (http[s]://host[:port]).")
  var deliverEndpoint: String?

  @Option(help: "For an s3:// --deliver: an AWS credentials file (its default profile).")
  var deliverCredentialsFile: String?

  @Option(
    help:
      "Write Prometheus metrics to this file every 5 s, atomically, for node_exporter's textfile collector (env JOBDROP_METRICS)."
  )
  var metrics: String?

  @Option(
    help:
      "Serve Prometheus metrics at http://ADDR:PORT/metrics, e.g. 127.0.0.1:9464 (env JOBDROP_METRICS_LISTEN)."
  )
  var metricsListen: String?

  @Flag(help: "A filter that matches no rows is a success with a header-only file (env JOBDROP_EMPTY_OK=1).")
  var emptyOk = false

  @Flag(help: "Do not prefix formula-like text cells with ' (env JOBDROP_RAW_CSV=1).")
  var rawCsv = false

  @OptionGroup var logging: LoggingOptions

  /// The validated configuration, or a `ValidationError` naming the bad option.
  func configuration() throws -> Configuration {
    var flags = Configuration.Flags()
    flags.inbox = inbox
    flags.spool = spool
    flags.localSpool = localSpool
    flags.lease = lease
    flags.outbox = outbox
    flags.source = source
    flags.catalog = catalog
    flags.baseURL = baseURL
    flags.workers = workers
    flags.retries = retries
    flags.ttl = ttl
    flags.settle = settle
    flags.grace = grace
    flags.partners = partners
    flags.webhookURL = webhookUrl
    flags.webhookSecretFile = webhookSecretFile
    flags.publish = publish
    flags.s3Endpoint = s3Endpoint
    flags.s3PartSize = s3PartSize
    flags.deliver = deliver
    flags.deliverHostKey = deliverHostKey
    flags.deliverPrivateKeyFile = deliverPrivateKeyFile
    flags.deliverPrivateKeyPassphraseFile = deliverPrivateKeyPassphraseFile
    flags.deliverEncryptTo = deliverEncryptTo
    flags.deliverEndpoint = deliverEndpoint
    flags.deliverCredentialsFile = deliverCredentialsFile
    flags.emptyOK = emptyOk
    flags.rawCSV = rawCsv
    flags.metrics = metrics
    flags.metricsListen = metricsListen
    do {
      return try Configuration(flags: flags, environment: ProcessInfo.processInfo.environment)
    } catch {
      throw ValidationError(error.message)
    }
  }
}

/// Log options.
struct LoggingOptions: ParsableArguments {
  @Option(help: "Log format on stderr: text or json.")
  var logFormat: LogFormatArgument = .text

  @Option(help: "Least severe level logged: trace, debug, info, notice, warning, error, critical.")
  var logLevel: String = "info"

  /// Installs the log handler and returns the command's logger.
  func makeLogger() throws -> Logger {
    guard let level = Logger.Level(rawValue: logLevel) else {
      throw ValidationError("--log-level: unknown level '\(logLevel)'")
    }
    logFormat.format.bootstrap(level: level)
    return Logger(label: "jobdrop")
  }
}

enum LogFormatArgument: String, ExpressibleByArgument, CaseIterable {
  case text, json
  var format: LogFormat { self == .text ? .text : .json }
}

/// Writes `text` to stderr.
func printError(_ text: String) {
  LogWriter.standardError.flush(timeoutMilliseconds: 1_000)  // after the log lines before it
  var line = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
  _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// The `--catalog` option of the commands that read requests without working a spool.
struct CatalogOption: ParsableArguments {
  @Option(help: "A job type catalog file (JSON) instead of the built-in one (env JOBDROP_CATALOG).")
  var catalog: String?

  /// The configuration with this catalog (other settings from the environment and defaults).
  func configuration() throws -> Configuration {
    var flags = Configuration.Flags()
    flags.catalog = catalog
    do {
      return try Configuration(flags: flags, environment: ProcessInfo.processInfo.environment)
    } catch {
      throw ValidationError(error.message)
    }
  }
}
