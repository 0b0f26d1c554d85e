// swift-tools-version: 6.1
import PackageDescription

// The layers, each a target; arrows point down only, and each C library is imported by one target:
//
//   jobdrop (commands) → JobdropDaemon → JobdropState → JobdropExport → JobdropModel → JobdropSystem
//                      ↘ JobdropDemo ↗                  ↘ JobdropCrypto (the one owner of libcrypto)
//                                                       ↘ JobdropPostgres (the one owner of libpq) → JobdropModel
let package = Package(
  name: "jobdrop",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "jobdrop", targets: ["jobdrop"])
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
    // OpenSSL's libcrypto (Debian: libssl-dev): SHA-256 of published files, MD5 of bucket objects, HMAC of
    // webhook signatures. Only JobdropCrypto imports it.
    .systemLibrary(name: "CCrypto", path: "Sources/CCrypto"),
    // libpq (Debian: libpq-dev) for PostgreSQL sources and the shared spool. Only JobdropPostgres imports it.
    .systemLibrary(name: "CPostgres", path: "Sources/CPostgres"),
    // zlib (Debian: zlib1g-dev) for streamed .csv.gz exports.
    .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
    // libzstd (Debian: libzstd-dev) for .zst exports and Parquet pages, multithreaded.
    .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
    // libdeflate (Debian: libdeflate-dev) for .gz exports: gzip members compressed on several threads.
    .systemLibrary(name: "CDeflate", path: "Sources/CDeflate"),
    // libcurl (Debian: libcurl4-openssl-dev) for webhook deliveries.
    .systemLibrary(name: "CCurl", path: "Sources/CCurl"),
    // libxlsxwriter (Debian: libxlsxwriter-dev) for .xlsx exports, in its constant-memory mode.
    .systemLibrary(name: "CXLSXWriter", path: "Sources/CXLSXWriter"),
    // Linux calls that need _GNU_SOURCE (renameat2, O_PATH, sync_file_range).
    .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
    // The CSV writer's scan for bytes that need quoting, with SSE2 (a header of static inline C).
    .systemLibrary(name: "CByteScan", path: "Sources/CByteScan"),

    // System wrappers: files and directories, errors with their errno, threads, time, logging.
    .target(
      name: "JobdropSystem",
      dependencies: ["CLinux", .product(name: "Logging", package: "swift-log")]
    ),
    // PostgreSQL connections (the one owner of libpq): the export's row stream and the shared spool's table.
    .target(name: "JobdropPostgres", dependencies: ["CPostgres", "CByteScan", "CLinux", "JobdropModel"]),
    // Digests and signatures (SHA-256, MD5, HMAC-SHA256) over OpenSSL's libcrypto.
    .target(name: "JobdropCrypto", dependencies: ["CCrypto"]),
    // What partners write and what it means: the catalog of job types, filters, requests.
    .target(
      name: "JobdropModel",
      dependencies: ["JobdropSystem"],
      // The built-in job type catalog: the same JSON an operator's --catalog file holds.
      resources: [.embedInCode("Catalog/catalog.json")]
    ),
    // Rows out of the data sources (SQLite, PostgreSQL) into export files (CSV, gzip, SHA-256).
    .target(
      name: "JobdropExport",
      dependencies: [
        "JobdropCrypto", "JobdropModel", "JobdropPostgres", "JobdropSystem", "CSQLite", "CZlib",
        "CZstd", "CDeflate", "CXLSXWriter",
        "CByteScan", "CCopyRow",
      ]
    ),
    // COPY text rows to CSV rows with SSE2 or AVX2 (compiled as C, not through the Swift importer).
    .target(name: "CCopyRow"),
    // The state a job lives in: the inbox, the spool, the outbox, and the job table that moves between them.
    .target(
      name: "JobdropState",
      dependencies: [
        "JobdropCrypto", "JobdropExport", "JobdropModel", "JobdropPostgres", "JobdropSystem", "CInotifyTools",
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // The daemon: configuration, services, the batch run.
    .target(
      name: "JobdropDaemon",
      dependencies: [
        "JobdropCrypto", "JobdropState", "JobdropExport", "JobdropModel", "JobdropPostgres", "JobdropSystem",
        "CCurl",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ]
    ),
    // The reference commerce schema with deterministic sample data (`jobdrop demo-data`), not in the daemon.
    .target(
      name: "JobdropDemo",
      dependencies: ["JobdropExport", "JobdropModel", "JobdropPostgres", "JobdropSystem"]),
    .executableTarget(
      name: "jobdrop",
      dependencies: [
        "JobdropDaemon", "JobdropDemo", "JobdropState", "JobdropExport", "JobdropModel", "JobdropPostgres",
        "JobdropSystem", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // libFuzzer targets for the request and filter parsers (`make fuzz`); a corpus replayer otherwise.
    .executableTarget(name: "jobdrop-fuzz", dependencies: ["JobdropModel", "JobdropSystem"]),
    .testTarget(
      name: "JobdropCoreTests",
      dependencies: [
        "JobdropCrypto", "JobdropDaemon", "JobdropDemo", "JobdropState", "JobdropExport", "JobdropModel",
        "JobdropSystem", "CSQLite",
      ]
    ),
    .testTarget(
      name: "EndToEndTests",
      dependencies: [
        "JobdropCrypto", "JobdropDemo", "JobdropState", "JobdropExport", "JobdropModel", "JobdropSystem",
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
