import Foundation
import Testing

/// Files over `--s3-part-size` put in parts into moto's S3 (checking every request's signature), read
/// back with boto3: byte-equal, and no unfinished upload left, also after a kill in the middle of one.
@Suite(.timeLimit(.minutes(10))) struct MultipartUploadTests {
  /// boto3's view of the bucket's uploads: unfinished ones, and objects put in parts.
  func uploads(_ server: PublishTests.S3Server, _ sandbox: Sandbox) throws -> (
    unfinished: [String], multipart: [[Any]]
  ) {
    let result = try Spawn.run(
      "/usr/bin/env", ["python3", PublishTests.script, "uploads", server.endpoint, server.bucket],
      directory: sandbox.root,
      environment: ProcessInfo.processInfo.environment.merging(server.environment) { $1 })
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
    return (report["unfinished"] as? [String] ?? [], report["multipart"] as? [[Any]] ?? [])
  }

  @Test func aFileOverThePartSizeArrivesWholeInPartsAndNoUploadIsLeft() throws {
    let sandbox = try Sandbox(orders: 60_000)
    let server = try PublishTests.S3Server(sandbox, auth: true)
    let waiter = try sandbox.outboxWaiter()
    let daemon = try RunningDaemon(
      sandbox, server.options() + ["--s3-part-size", "5MiB"], environment: server.environment)
    defer { daemon.stop() }
    sandbox.drop("all.json", Sandbox.request())
    #expect(PublishTests.waitForJobs(sandbox, ["all.json"], waiter), "\(daemon.log)")
    let comparison = try PublishTests.waitUntilEqual(sandbox, server)
    #expect(comparison.equal, "\(comparison.report)\n\(daemon.log)")
    let bytes = (try sandbox.job(file: "all.json")["meta"] as? [String: Any])?["bytes"] as? Int ?? 0
    let state = try uploads(server, sandbox)
    #expect(state.unfinished.isEmpty)
    #expect(state.multipart.count == 1, "\(state.multipart)")
    #expect(
      state.multipart.first?[1] as? Int == (bytes + (5 << 20) - 1) / (5 << 20),
      "parts of 5 MiB for \(bytes) bytes")
  }

  /// Killed right after a part was sent (the debug build kills itself there): the upload is left
  /// unfinished; the next start aborts it and puts the file again, whole.
  @Test func killedMidUploadTheNextStartAbortsItAndTheBucketEndsEqual() throws {
    let sandbox = try Sandbox(orders: 60_000)
    let server = try PublishTests.S3Server(sandbox)
    let options = server.options(prefix: "site") + ["--s3-part-size", "5MiB"]
    let first = try RunningDaemon(
      sandbox, options, environment: server.environment.merging(["JOBDROP_CRASH_AT": "part-uploaded"]) { $1 })
    sandbox.drop("all.json", Sandbox.request())
    #expect(first.wait(timeout: 120) == 128 + SIGKILL, "\(first.log)")
    #expect(try uploads(server, sandbox).unfinished.count == 1, "one upload left unfinished by the kill")
    let second = try RunningDaemon(sandbox, options, environment: server.environment)
    defer { second.stop() }
    let comparison = try PublishTests.waitUntilEqual(sandbox, server, prefix: "site")
    #expect(comparison.equal, "\(comparison.report)\n\(second.log)")
    #expect(try uploads(server, sandbox).unfinished.isEmpty, "\(second.log)")
    #expect(second.log.contains("unfinished multipart uploads aborted"))
  }
}
