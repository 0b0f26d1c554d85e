import JobdropState
import ServiceLifecycle

/// Runs the webhook lanes while the daemon runs; stops them (each after its current attempt) at shutdown.
struct WebhookService: Service {
  let deliverer: WebhookDeliverer?

  func run() async throws {
    guard let deliverer else {
      try? await gracefulShutdown()
      return
    }
    deliverer.start()
    try? await gracefulShutdown()
    await DedicatedThread.run(name: "jobdrop-webhooks") { deliverer.stop() }
  }
}
