import JobdropState
import Logging
import ServiceLifecycle
import UnixSignals

/// `jobdrop run`: the watcher, intake, job runners and outbox renderer as services of one
/// `ServiceGroup`, shut down gracefully on SIGTERM or SIGINT.
///
/// Shutdown goes in reverse order: the watcher and intake stop taking requests, the runners put a job
/// cut short back to `pending`, and the outbox renders a last index. A service that fails (the inbox
/// removed, the outbox unwritable) stops the others and `run()` throws, so the process exits non-zero.
public struct Daemon {
  let workspace: Workspace
  let logger: Logger

  public init(workspace: Workspace, logger: Logger) {
    self.workspace = workspace
    self.logger = logger
  }

  public func run() async throws {
    let configuration = workspace.configuration
    let mailbox = InboxMailbox()
    let runners = ThreadControl()
    let folders = WatchList(workspace.intakes.folders)
    // Stopped in reverse order: intake first, webhook deliveries and publishing last.
    var services: [any Service] = [
      PublishService(mirror: workspace.mirror),
      LanesService(work: workspace.webhooks, threadName: "jobdrop-webhooks"),
      LanesService(work: workspace.deliveries, threadName: "jobdrop-deliver"),
      OutboxService(store: workspace.store, logger: logger),
      SchedulerService(schedules: workspace.schedules, runners: runners, logger: logger),
      RunnerService(
        runner: workspace.runner, workers: configuration.workers, control: runners, logger: logger),
      IntakeService(
        intakes: workspace.intakes, folders: folders, mailbox: mailbox, runners: runners,
        settleMilliseconds: configuration.settleMilliseconds, logger: logger),
      WatchService(
        path: configuration.inbox, folders: folders, partnersFile: configuration.partnersPath,
        mailbox: mailbox, logger: logger),
    ]
    let exposition = MetricsExposition(workspace: workspace, started: .now())
    if let path = configuration.metricsFile {
      services.insert(MetricsService(exposition: exposition, path: path, logger: logger), at: 0)
    }
    if let listen = configuration.metricsListen {
      services.insert(MetricsServer(exposition: exposition, listen: listen, logger: logger), at: 0)
    }
    if let shared = workspace.shared {
      // Stopped after the runners: their leases are renewed until they have put their jobs back.
      services.insert(
        FollowService(
          store: workspace.store, table: shared.table, runners: runners, mirror: workspace.mirror,
          logger: logger),
        at: services.count - 3)
    }
    let group = ServiceGroup(
      configuration: .init(
        services: services.map { .init(service: $0) },
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    logger.info(
      "jobdrop running",
      metadata: [
        "inbox": "\(configuration.inbox)", "outbox": "\(configuration.outbox)",
        "spool": "\(configuration.sharedSpool.map(PostgresSpool.describe) ?? configuration.spool)",
        "source": "\(configuration.source)", "workers": "\(configuration.workers)",
        "partners": "\(workspace.intakes.partners?.list.ids.joined(separator: ",") ?? "-")",
      ])
    if configuration.baseURL == nil {
      logger.warning(
        "no --base-url (JOBDROP_BASE_URL): links.self and link.href are relative (files/<id>/…), which only resolve when the outbox is served from the root of a host; set it to the site's URL, e.g. https://exports.example.com"
      )
    }
    try await group.run()
    logger.info("jobdrop stopped")
  }
}
