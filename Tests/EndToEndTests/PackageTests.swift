import Foundation
import Testing

/// The Debian package, made by `scripts/build-deb.sh` (what `make deb` runs) from this build's binary:
/// lintian finds no error, every file is where Debian and systemd look, the maintainer scripts parse,
/// and the installed binary runs the tour against the layout its tmpfiles snippet makes.
@Suite(.timeLimit(.minutes(10))) struct PackageTests {
  @Test func thePackageIsLintianCleanCompleteAndItsBinaryRunsTheTour() throws {
    let sandbox = try Sandbox(orders: 1)
    let script = NginxTests.repository.appendingPathComponent("scripts/build-deb.sh").path
    let built = try Spawn.run("/bin/bash", [script, Sandbox.binary, sandbox.root + "/dist"])
    try #require(built.status == 0, "\(built.stdout)\(built.stderr)")
    let deb = built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(deb.hasSuffix("/jobdrop_0.3.0_amd64.deb"))

    let lintian = try Spawn.run("/usr/bin/lintian", ["--fail-on", "error", deb])
    #expect(lintian.status == 0, "\(lintian.stdout)\(lintian.stderr)")
    #expect(!lintian.stdout.contains("E: "), "\(lintian.stdout)")

    let info = try Spawn.run(
      "/usr/bin/dpkg-deb", ["-f", deb, "Package", "Version", "Architecture", "Depends"])
    #expect(info.stdout.contains("Package: jobdrop\nVersion: 0.3.0\nArchitecture: amd64\n"), "\(info.stdout)")
    for library in [
      "libc6", "libinotifytools0", "libsqlite3-0", "libpq5", "libssl3", "libcurl4", "libxlsxwriter4",
    ] {
      #expect(info.stdout.contains(library + " (>="), "Depends names \(library): \(info.stdout)")
    }
    let root = sandbox.root + "/root"
    #expect(try Spawn.run("/usr/bin/dpkg-deb", ["-x", deb, root]).status == 0)
    let control = sandbox.root + "/control"
    #expect(try Spawn.run("/usr/bin/dpkg-deb", ["-e", deb, control]).status == 0)
    for script in ["postinst", "prerm", "postrm"] {
      #expect(try Spawn.run("/bin/sh", ["-n", control + "/" + script]).status == 0, "\(script) parses")
    }
    #expect(try String(contentsOfFile: control + "/postinst", encoding: .utf8).contains("systemd-sysusers"))

    let files = [
      "usr/bin/jobdrop", "lib/systemd/system/jobdrop.service", "usr/lib/sysusers.d/jobdrop.conf",
      "usr/lib/tmpfiles.d/jobdrop.conf", "usr/share/jobdrop/nginx.conf", "usr/share/man/man1/jobdrop.1.gz",
      "usr/share/bash-completion/completions/jobdrop", "usr/share/zsh/vendor-completions/_jobdrop",
      "usr/share/fish/vendor_completions.d/jobdrop.fish", "usr/share/doc/jobdrop/copyright",
    ]
    for file in files { #expect(FileManager.default.fileExists(atPath: root + "/" + file), "\(file)") }
    let unit = try String(contentsOfFile: root + "/lib/systemd/system/jobdrop.service", encoding: .utf8)
    #expect(unit.contains("ExecStart=/usr/bin/jobdrop run") && unit.contains("Type=notify"))
    #expect(
      unit.contains("ReadWritePaths=/var/lib/jobdrop/inbox /var/lib/jobdrop/spool /var/lib/jobdrop/outbox"))
    #expect(!unit.contains("/srv/jobdrop") && !unit.contains("/usr/local/bin"))
    let sysusers = try String(contentsOfFile: root + "/usr/lib/sysusers.d/jobdrop.conf", encoding: .utf8)
    #expect(sysusers.hasPrefix("u jobdrop "))
    let man = try Spawn.run("/bin/sh", ["-c", "zcat '\(root)/usr/share/man/man1/jobdrop.1.gz'"])
    #expect(man.stdout.hasPrefix(".TH JOBDROP 1"))
    for section in ["RUN", "PROCESS", "STATUS", "DOCTOR", "SUBMIT"] {
      #expect(man.stdout.contains(".SH \(section)\n"))
    }
    #expect(
      try Spawn.run("/bin/bash", ["-n", root + "/usr/share/bash-completion/completions/jobdrop"]).status == 0)

    // The layout the tmpfiles snippet makes, under `root`, and the installed binary's tour in it (a
    // debug build finds its Swift runtime through LD_LIBRARY_PATH; the package carries no RUNPATH).
    let tmpfiles = try String(contentsOfFile: root + "/usr/lib/tmpfiles.d/jobdrop.conf", encoding: .utf8)
    for line in tmpfiles.split(separator: "\n") where line.hasPrefix("d ") {
      let fields = line.split(separator: " ")
      try FileManager.default.createDirectory(atPath: root + fields[1], withIntermediateDirectories: true)
      chmod(root + fields[1], mode_t(Int(fields[2], radix: 8)!))
    }
    let readelf = try Spawn.run("/usr/bin/readelf", ["-d", root + "/usr/bin/jobdrop"])
    #expect(!readelf.stdout.contains("RUNPATH") && !readelf.stdout.contains("RPATH"))
    let home = root + "/var/lib/jobdrop"
    let paths = [
      "--inbox", home + "/inbox", "--spool", home + "/spool", "--outbox", home + "/outbox", "--source",
      "sqlite:" + home + "/data/store.sqlite",
    ]
    var environment = ProcessInfo.processInfo.environment
    environment["LD_LIBRARY_PATH"] = "/opt/swift/usr/lib/swift/linux"
    let binary = root + "/usr/bin/jobdrop"
    #expect(try Spawn.run(binary, ["--version"], environment: environment).stdout == "0.3.0\n")
    let data = try Spawn.run(
      binary, ["demo-data", "--orders", "200", "--source", "sqlite:" + home + "/data/store.sqlite"],
      environment: environment)
    #expect(data.status == 0, "\(data.stderr)")
    try Sandbox.request(filter: "eq(payment,refunded)").write(
      toFile: home + "/inbox/refunds.json", atomically: true, encoding: .utf8)
    let process = try Spawn.run(binary, ["process"] + paths, environment: environment)
    #expect(process.status == 0, "\(process.stderr)")
    let status = try Spawn.run(binary, ["status"] + paths, environment: environment)
    #expect(status.stdout.contains("success") && status.stdout.contains("refunds.json"), "\(status.stdout)")
    let doctor = try Spawn.run(binary, ["doctor"] + paths, environment: environment)
    #expect(doctor.status == 0, "\(doctor.stdout)")
  }
}
