import Foundation
import Testing

/// The job page (`outbox/index.html`) in a real browser: Debian's chromium driven by Selenium
/// (`Tests/Browser/job_page.py`), against the page as nginx serves it while `jobdrop run` works, and as a
/// file.
@Suite(.timeLimit(.minutes(10))) struct JobPageTests {
  @Test func aBrowserListsEveryJobDownloadsAFileAndFollowsANewJob() throws {
    try #require(
      FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver"),
      "chromium and chromium-driver are not installed (make test installs them)")
    let sandbox = try Sandbox(orders: 800)
    // More jobs than the page's first 500 rows and the script's 200-row pages: failures (quick to run),
    // successes, and a reference whose markup must stay text.
    for index in 0..<600 {
      sandbox.drop(
        "unknown-\(index).json",
        Sandbox.request(filter: "eq(colour,red)", extra: #", "reference": "batch \#(index)""#))
    }
    sandbox.drop("paid.json", Sandbox.request(filter: "eq(status,complete)", extra: #", "reference": "Paid"#))
    sandbox.drop(
      "markup.json",
      Sandbox.request(extra: #", "reference": "<img src=x onerror=\"window.injected=true\"> & <b>bold</b>""#))
    try sandbox.process()
    let nginx = try NginxTests.Nginx(outbox: sandbox.outbox, directory: sandbox.root)
    let daemon = try RunningDaemon(sandbox)
    defer { daemon.stop() }
    let downloads = sandbox.root + "/downloads"
    try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: true)
    let script = NginxTests.repository.appendingPathComponent("Tests/Browser/job_page.py").path
    let result = try Spawn.run(
      "/usr/bin/env",
      ["python3", script, "http://127.0.0.1:\(nginx.port)/", sandbox.outbox, sandbox.inbox, downloads],
      directory: sandbox.root)
    #expect(result.status == 0, "\(result.stdout)\(result.stderr.suffix(3000))\n\(daemon.log.suffix(2000))")
    #expect(result.stdout.contains("job page: 603 jobs checked"), "\(result.stdout)")
  }
}
