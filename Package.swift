// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "jobdrop",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "jobdrop", targets: ["jobdrop"]),
    .library(name: "JobdropCore", targets: ["JobdropCore"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
  ],
  targets: [
    // libinotifytools (Debian: libinotifytools0-dev). Only the inbox watcher imports it.
    .systemLibrary(name: "CInotifyTools", path: "Sources/CInotifyTools"),
    // The SQLite C API (Debian: libsqlite3-dev); the export hot path reads rows through it.
    .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
    // OpenSSL's libcrypto (Debian: libssl-dev) for SHA-256 of published files.
    .systemLibrary(name: "CCrypto", path: "Sources/CCrypto"),
    // libpq (Debian: libpq-dev) for PostgreSQL sources.
    .systemLibrary(name: "CPostgres", path: "Sources/CPostgres"),
    // zlib (Debian: zlib1g-dev) for streamed .csv.gz exports.
    .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
    // Linux calls that need _GNU_SOURCE (renameat2).
    .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
    .target(
      name: "JobdropCore",
      dependencies: [
        "CInotifyTools", "CSQLite", "CCrypto", "CLinux", "CZlib", "CPostgres",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ],
      // The built-in job type catalog: the same JSON an operator's --catalog file holds.
      resources: [.embedInCode("Catalog/catalog.json")]
    ),
    .executableTarget(
      name: "jobdrop",
      dependencies: [
        "JobdropCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // libFuzzer targets for the request and filter parsers (`make fuzz`); a corpus replayer otherwise.
    .executableTarget(name: "jobdrop-fuzz", dependencies: ["JobdropCore"]),
    .testTarget(
      name: "JobdropCoreTests",
      dependencies: ["JobdropCore", "CSQLite"]
    ),
    .testTarget(
      name: "EndToEndTests",
      dependencies: ["JobdropCore"]
    ),
  ],
  swiftLanguageModes: [.v6]
)
