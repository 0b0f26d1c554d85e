import ServiceLifecycle

/// Runs the bucket mirror while the daemon runs; stops it (after its current call) at shutdown, after the
/// outbox's last render, so the last index is published too when the bucket answers.
struct PublishService: Service {
  let mirror: BucketMirror?

  func run() async throws {
    guard let mirror else {
      try? await gracefulShutdown()
      return
    }
    mirror.start()
    try? await gracefulShutdown()
    await DedicatedThread.run(name: "jobdrop-publish") { mirror.stop() }
  }
}
