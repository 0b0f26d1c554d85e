import Foundation
import Testing

/// What a partner can put in the inbox over SFTP, and what each becomes; and a full disk.
@Suite(.timeLimit(.minutes(10))) struct HostileInputTests {
  @Test func everyHostileEntryHasItsExpectedOutcome() throws {
    let sandbox = try Sandbox(orders: 200)
    let inbox = sandbox.inbox
    // A hard link to a file outside the inbox: a regular file like any other; the outside file stays.
    try Sandbox.request().write(toFile: sandbox.root + "/outside.json", atomically: true, encoding: .utf8)
    try FileManager.default.linkItem(atPath: sandbox.root + "/outside.json", toPath: inbox + "/linked.json")
    sandbox.drop("deep.json", String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000))
    sandbox.drop(
      "dupes.json", #"{"data": {"type": "job", "job_type": "order_export", "job_type": "order_export"}}"#)
    sandbox.drop("line\nbreak.json", Sandbox.request())
    let long = String(repeating: "x", count: 250) + ".json"
    sandbox.drop(long, Sandbox.request())
    sandbox.drop(
      "control.json", Sandbox.request(extra: #", "reference": "ab\u001b[31m\n../../etc/passwd""#))
    sandbox.drop("nul.json", Sandbox.request(extra: #", "reference": "a\u0000b""#))
    sandbox.drop("columns.json", Sandbox.request(extra: #", "columns": ["id\u0007"]"#))
    sandbox.drop(
      "forge.json", Sandbox.request(filter: "eq(status,\"x\n\u{1b}[2J2026-01-01 critical jobdrop: forged\")"))
    let result = try sandbox.process()

    #expect(try sandbox.job(file: "linked.json")["status"] as? String == "success")
    #expect(FileManager.default.fileExists(atPath: sandbox.root + "/outside.json"))
    let deep = try sandbox.job(file: "deep.json")
    #expect((deep["error"] as? String)?.contains("nested deeper than 64 levels") == true)
    let dupes = try sandbox.job(file: "dupes.json")
    #expect((dupes["error"] as? String)?.contains("duplicate key \"job_type\"") == true)
    let broken = try sandbox.job(file: "line\\u{a}break.json")
    #expect(
      broken["error"] as? String == "request file name contains control characters: 'line\\u{a}break.json'")
    let longJob = try sandbox.job(file: long)
    #expect(longJob["status"] as? String == "success")
    #expect(
      sandbox.list("outbox/requests").contains { $0.hasPrefix(String(repeating: "x", count: 150) + "-") })
    let control = try sandbox.job(file: "control.json")
    #expect(control["status"] as? String == "success")
    #expect(
      (control["meta"] as? [String: Any]).flatMap { $0["request"] as? [String: Any] }?["reference"] as? String
        == "ab\u{1b}[31m\n../../etc/passwd")
    let nul = try sandbox.job(file: "nul.json")
    #expect(
      nul["error"] as? String
        == "request is not valid JSON: NUL character (\\u0000) in a string; requests cannot contain it at line 1, column 69",
      "\(nul["error"] ?? "")")
    // What a partner wrote reaches the log escaped: no forged line, no escape codes for the terminal.
    let forged = try sandbox.job(file: "forge.json")
    #expect((forged["error"] as? String)?.contains("critical jobdrop: forged") == true)
    #expect(!result.stderr.contains("\u{1b}"), "\(result.stderr)")
    #expect(!result.stderr.split(separator: "\n").contains { $0.hasPrefix("2026-01-01 critical") })
    #expect(result.stderr.contains("\\u{a}\\u{1b}[2J2026-01-01 critical jobdrop: forged"), "\(result.stderr)")
    let columns = try sandbox.job(file: "columns.json")
    #expect((columns["error"] as? String)?.hasPrefix("data.columns: unknown column 'id\u{7}'") == true)

    // Nothing from a request becomes a path: the outbox holds only ids, job types and the known names.
    for path in FileManager.default.subpaths(atPath: sandbox.outbox) ?? [] {
      let parts = path.split(separator: "/")
      #expect(!path.contains("..") && !path.contains("etc") || parts.first == "requests", "\(path)")
      #expect(
        ["index.json", "index.html", "jobs", "files", "requests", "errors"].contains(String(parts[0])),
        "\(path)")
    }
    // Nothing world-writable; the spool is private.
    for base in [sandbox.outbox, sandbox.spool] {
      for path in [""] + (FileManager.default.subpaths(atPath: base) ?? []) {
        let mode =
          try FileManager.default.attributesOfItem(atPath: base + "/" + path)[.posixPermissions] as! Int
        #expect(mode & 0o002 == 0, "\(base)/\(path) is world-writable")
      }
    }
    #expect(
      try FileManager.default.attributesOfItem(atPath: sandbox.spool)[.posixPermissions] as? Int == 0o700)
  }

  @Test func aFullDiskFailsTheJobCleanlyAndTheNextOneRunsOnceThereIsRoom() throws {
    let sandbox = try Sandbox(orders: 20_000)
    sandbox.drop("big.json", Sandbox.request())
    // RLIMIT_FSIZE of 1 MiB: the 5 MB export cannot be written (EFBIG), the small documents can.
    let limited = try Spawn.run(
      "/bin/bash", ["-c", "ulimit -f 1024; exec \"$0\" \"$@\"", Sandbox.binary, "process"] + sandbox.paths)
    #expect(limited.status == 0, "\(limited.stderr)")
    let job = try sandbox.job(file: "big.json")
    #expect(job["status"] as? String == "failed")
    let error = job["error"] as? String ?? ""
    #expect(error.hasPrefix("export failed after") && error.contains("File too large"), "\(error)")
    let id = job["id"] as! String
    #expect(sandbox.list("outbox/files/\(id)") == [])

    sandbox.drop("again.json", Sandbox.request())
    try sandbox.process()
    let again = try sandbox.job(file: "again.json")
    #expect(again["status"] as? String == "success")
    #expect((again["meta"] as? [String: Any])?["rows"] as? Int == 20_000)
  }
}
