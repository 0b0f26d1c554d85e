import JobdropState
import ServiceLifecycle

/// Runs the delivery lanes while the daemon runs; stops them (each after its current attempt) at shutdown.
struct DeliveryService: Service {
  let deliverer: FileDeliverer?

  func run() async throws {
    guard let deliverer else {
      try? await gracefulShutdown()
      return
    }
    deliverer.start()
    try? await gracefulShutdown()
    await DedicatedThread.run(name: "jobdrop-deliver") { deliverer.stop() }
  }
}
