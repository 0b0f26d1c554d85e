import ServiceLifecycle

/// What ``LanesService`` runs: webhook events, file deliveries.
protocol LaneWork: Sendable {
  func start()
  func stop()
}

/// Runs a set of lanes while the daemon runs; stops them (each after its current attempt) at shutdown.
struct LanesService: Service {
  let work: (any LaneWork)?
  let threadName: String

  func run() async throws {
    guard let work else {
      try? await gracefulShutdown()
      return
    }
    work.start()
    try? await gracefulShutdown()
    await DedicatedThread.run(name: threadName) { work.stop() }
  }
}
