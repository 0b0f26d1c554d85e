import FoundationEssentials
import JobdropCrypto
import JobdropExport
import JobdropModel
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The public static site: `index.json`, `jobs/<id>.json`, `jobs/<id>/file.json`, `files/<id>/<name>`,
/// `requests/<request file name>` (the newest job of a request dropped under that name) and the
/// Elastic Path error bodies in `errors/`.
///
/// Every file is replaced atomically through ``AtomicWriter`` (write, rename; 0644, folders 0755), so a
/// web server never serves a partial document. The JSON documents and the job page are derived from the
/// spool and republished at every start (rewritten where their bytes differ), so they are neither
/// fsynced nor their folders synced; export files are both.
/// Each job's JSON and its row of the job page (`index.html`) are made once per change and reused by
/// every render of the index (at start-up a row is made by the first render that shows it).
// @unchecked: its caches (`entries`, `requestOwners`, `scheduleSection`) are only touched under the JobStore's lock (a
// ``Publication``'s files are written after it, in the order they were prepared): a lock of its own
// (a Mutex) would be taken under that one for every document, for nothing.
public final class Outbox: @unchecked Sendable {
  public let root: DirectoryHandle
  let jobsFolder: DirectoryHandle
  let filesFolder: DirectoryHandle
  let requestsFolder: DirectoryHandle
  /// Which job each `requests/` document shows: the newest one dropped under that name.
  private var requestOwners: [String: (created: Timestamp, id: String)] = [:]
  /// The job page's schedules, above its jobs (empty without schedules).
  var scheduleSection: [UInt8] = []
  public let links: OutboxLinks
  /// Seconds a job lives after it was created.
  public let ttl: Int64
  /// The partner whose site this is (`nil`: the root site), for the job page's title.
  public let partner: String?
  /// Every published job's JSON and page row, in the index's order.
  private var entries = IndexEntries()
  /// Told of every file this site writes or removes.
  let observer: (any OutboxObserver)?
  /// This site's folder relative to the outbox folder, with a trailing `/` (empty for the root site).
  let sitePrefix: String

  private let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }()

  /// Opens (creating when missing) the outbox at `path`.
  public init(
    path: String, links: OutboxLinks, ttl: Int64, partner: String? = nil,
    observer: (any OutboxObserver)? = nil
  ) throws(FileSystemError) {
    root = try DirectoryHandle(path: path, create: true, mode: 0o755)
    jobsFolder = try root.subdirectory("jobs", create: true)
    filesFolder = try root.subdirectory("files", create: true)
    requestsFolder = try root.subdirectory("requests", create: true)
    self.links = links
    self.ttl = ttl
    self.partner = partner
    self.observer = observer
    sitePrefix = partner.map { "\($0)/" } ?? ""
  }

  /// Tells the observer that `path` (relative to this site) changed.
  private func changed(_ path: String) { observer?.outboxChanged(sitePrefix + path) }
  func notifyChanged(_ path: String) { changed(path) }

  /// Makes `requests/<name>` show the schedule `id` (a standing request's file shows its schedule).
  func claimRequestName(_ name: String, for id: String) { requestOwners[name] = (Timestamp.now(), id) }

  /// Lets `requests/<name>` go when it shows `id`; returns whether it did.
  func releaseRequestName(_ name: String, from id: String) -> Bool {
    guard requestOwners[name]?.id == id else { return false }
    requestOwners[name] = nil
    return true
  }

  /// Tells the observer that a job's export file was published as `files/<id>/<name>`.
  public func exportPublished(id: String, name: String) { changed("files/\(id)/\(name)") }

  /// Waits until the observer has mirrored a job's export file (at once without one), while
  /// `keepWaiting` says so; returns whether it has.
  public func waitUntilMirrored(id: String, name: String, while keepWaiting: () -> Bool) -> Bool {
    observer?.waitUntilPublished(sitePrefix + "files/\(id)/\(name)", while: keepWaiting) ?? true
  }

  /// The folder for a job's export file, `files/<id>/`, created when missing.
  /// A new folder's entry is synced too, so a published export survives a power cut with its folder.
  /// With `durable` off the new folder is not synced: a group commit's flush makes it durable.
  public func filesDirectory(for id: String, durable: Bool = true) throws(FileSystemError) -> DirectoryHandle
  {
    guard durable else { return try filesFolder.subdirectory(id, create: true) }
    let existed = try filesFolder.status(of: FileName(id)) != nil
    let folder = try filesFolder.subdirectory(id, create: true)
    if !existed { try filesFolder.sync() }
    return folder
  }

  /// A job's export file published without a sync (`files/<id>/<name>`), for a group commit to make
  /// durable with the entries leading to it (in `files/<id>/`, and `files/<id>/`'s own in `files/`).
  public func unsyncedExport(id: String, name: String) throws(FileSystemError) -> UnsyncedFile {
    let folder = try filesFolder.subdirectory(id)
    return UnsyncedFile(folder: folder, name: FileName(name), folders: [folder, filesFolder])
  }

  /// Takes back what was published for a job that did not end in `success` (its partner cancelled it as
  /// it finished): its export file, or a split export's parts and manifest, and its folder.
  public func withdrawExport(id: String, name: String) {
    removeExport(id: id)
  }

  /// Removes every file in `files/<id>/` (an export file, a split export's parts and manifest, temp
  /// files) and the folder.
  public func removeExport(id: String) {
    guard JobID.isValid(id), let folder = try? filesFolder.subdirectory(id) else { return }
    for name in (try? folder.entries()) ?? [] where (try? folder.remove(name)) != nil {
      if !name.hasPrefix(AtomicWriter.temporaryPrefix) { changed("files/\(id)/\(name.display)") }
    }
    removeEmptyFilesDirectory(for: id)
  }

  /// Removes `files/<id>/` if it is empty (the export failed before a file was published).
  public func removeEmptyFilesDirectory(for id: String) {
    guard JobID.isValid(id) else { return }
    _ = FileName(id).withCString { unlinkat(filesFolder.descriptor, $0, AT_REMOVEDIR) }
  }

  /// Writes `jobs/<id>.json`, the request's `requests/<name>` (if this is its newest job) and, on
  /// success, `jobs/<id>/file.json`.
  /// With `unlessUnchanged` (at start-up), documents that already hold the same bytes are not rewritten.
  public func publish(_ job: Job, unlessUnchanged: Bool = false) throws {
    try write(try prepare(job, unlessUnchanged: unlessUnchanged))
  }

  /// A job's documents, made by ``prepare(_:unlessUnchanged:)`` and written by ``write(_:)``.
  public struct Publication: Sendable {
    /// The site that made it (the one to write it).
    public let site: Outbox
    let id: String
    /// `{"data": …}` for `jobs/<id>.json` and the request documents.
    let document: [UInt8]
    /// The `requests/` documents this job shows.
    let requestNames: [FileName]
    /// `jobs/<id>/file.json` (a job that succeeded).
    let link: [UInt8]?
    let unlessUnchanged: Bool
  }

  /// Makes a job's documents and updates what the index and the `requests/` documents show (call under
  /// the store's lock, in the order of the job's changes); nothing is written: ``write(_:)`` writes them,
  /// and may run after the lock is released as long as writes keep the order of their preparations.
  public func prepare(_ job: Job, unlessUnchanged: Bool = false, pageRow: Bool = true) throws -> Publication {
    let jobDocument = JobDocument(job: job, links: links, ttl: ttl)
    let bytes = jobDocument.json
    // At start-up most jobs are past the page's newest rows (`pageRow` off): a render makes the rows
    // it needs, reading their jobs back.
    entries.put(
      id: job.id, created: job.record.createdAt, state: job.state, json: bytes,
      row: pageRow ? JobPage.row(for: job) : [])
    var requestNames: [FileName] = []
    let owner = requestOwners[job.record.requestFile]
    // A schedule's runs leave `requests/<name>` to the schedule.
    if job.record.scheduleID == nil,
      owner == nil || owner!.id == job.id || (owner!.created, owner!.id) < (job.record.createdAt, job.id)
    {
      requestOwners[job.record.requestFile] = (job.record.createdAt, job.id)
      requestNames.append(Outbox.requestDocumentName(job.record.requestFile))
    }
    // Later requests with the job's idempotency key show it too, unless a newer job took their name.
    for alias in job.record.requestAliases ?? [] {
      if requestOwners[alias] == nil { requestOwners[alias] = (Timestamp.now(), job.id) }
      if requestOwners[alias]?.id == job.id { requestNames.append(Outbox.requestDocumentName(alias)) }
    }
    // `{"data":{"href":…}}`.
    var link: [UInt8]?
    if job.state == .success {
      var json = JSONText()
      json.beginObject()
      json.object("data") { $0.field("href", jobDocument.link.href) }
      json.endObject()
      link = json.bytes
    }
    return Publication(
      site: self, id: job.id, document: Outbox.wrap(bytes), requestNames: requestNames, link: link,
      unlessUnchanged: unlessUnchanged)
  }

  /// Writes what ``prepare(_:unlessUnchanged:)`` made. The `requests/` documents are second names of
  /// `jobs/<id>.json` (hard links): a job's change makes one new file, not one per document.
  public func write(_ publication: Publication) throws {
    // Views of the spool: not fsynced (see AtomicWriter); the spool's move was durable before this.
    func put(_ bytes: [UInt8], _ path: String, _ name: FileName, _ folder: DirectoryHandle) throws {
      if publication.unlessUnchanged {
        guard
          try AtomicWriter.writeIfChanged(bytes, to: name, in: folder, syncDirectory: false, syncFile: false)
        else { return }
      } else {
        try AtomicWriter.write(bytes, to: name, in: folder, syncDirectory: false, syncFile: false)
      }
      changed(path + name.display)
    }
    let id = publication.id
    let jobFile = FileName("\(id).json")
    try put(publication.document, "jobs/", jobFile, jobsFolder)
    for name in publication.requestNames {
      // (`jobs/<id>.json` was just replaced, or, at start-up, is unchanged while this document differs:
      // either way this name is not one of its names yet.)
      if publication.unlessUnchanged,
        (try? FileReader.read(name, in: requestsFolder, limit: publication.document.count + 1))
          == publication.document
      {
        continue
      }
      try AtomicWriter.replace(
        name, in: requestsFolder, withLinkTo: jobFile, in: jobsFolder, bytes: publication.document)
      changed("requests/" + name.display)
    }
    if let link = publication.link {
      try put(link, "jobs/\(id)/", FileName("file.json"), try jobsFolder.subdirectory(id, create: true))
    }
  }

  /// Writes `requests/<name>` for a cancel request: `{"data": {"cancel": id, "result": …}}`.
  public func publishCancel(requestFile name: String, jobID: String, result: String) throws {
    requestOwners[name] = (Timestamp.now(), "")
    let body = ["data": ["cancel": jobID, "result": result]]
    let file = Outbox.requestDocumentName(name)
    try AtomicWriter.write(
      Array(try encoder.encode(body)) + [0x0A], to: file, in: requestsFolder, syncDirectory: false)
    changed("requests/" + file.display)
  }

  /// Writes `index.json` and `index.html`: every published job, newest first.
  public func publishIndex() throws {
    try writeIndex(indexDocuments())
  }

  /// Writes `documents.json` as `index.json` (streamed from its parts), then `documents.page` as
  /// `index.html`.
  public func writeIndex(_ documents: IndexDocuments) throws {
    // The replaced index is freed off the render's path (``BackgroundCloser``): rendering a large index
    // is the render budget's cost, and freeing it was a fifth of it here.
    try AtomicWriter.write(
      parts: documents.json, to: FileName("index.json"), in: root, syncDirectory: false, syncFile: false,
      freeReplacedInBackground: true
    ) {
      CrashPoint.reached("mid-index")
    }
    changed("index.json")
    try AtomicWriter.write(
      documents.page, to: FileName("index.html"), in: root, syncDirectory: false, syncFile: false,
      freeReplacedInBackground: true)
    changed("index.html")
  }

  /// `index.json` as its parts (the index's blocks of jobs' JSON: references, not copies, so a
  /// 100,000-job index is never assembled in memory, nor walked job by job) and `index.html`: every
  /// published job, newest first (the page holds the newest ``JobPage/pageRows``; its script loads the
  /// rest).
  ///
  /// A job's page row is kept only while it is among the newest ``JobPage/pageRows``: past them it is
  /// dropped (see ``IndexEntries/newestRows(_:make:)``). `row` makes a row again for a job that needs one.
  public func indexDocuments(at now: Timestamp = .now(), row: (String) -> [UInt8]? = { _ in nil })
    -> IndexDocuments
  {
    let rows = entries.newestRows(JobPage.pageRows, make: row)
    let page = JobPage.render(
      rows: rows[...], counts: entries.counts.filter { $0.value > 0 }, total: entries.count, partner: partner,
      at: now, schedules: scheduleSection)
    return IndexDocuments(json: entries.json(), page: page)
  }

  /// `index.json` (in parts) and `index.html`, rendered together.
  public struct IndexDocuments: Sendable {
    public var json: [ArraySlice<UInt8>]
    public var page: [UInt8]
  }

  /// Removes the job `id` (created at `created`)'s documents and files from the site (the index drops it
  /// on its next render).
  public func remove(id: String, created: Timestamp) throws {
    guard JobID.isValid(id) else { return }
    entries.remove(id: id, created: created)
    for (name, owner) in requestOwners where owner.id == id {
      requestOwners[name] = nil
      let file = Outbox.requestDocumentName(name)
      try requestsFolder.remove(file)
      changed("requests/" + file.display)
    }
    // Files first (what the documents point to), as the observer is told.
    for folder in ["files", "jobs"] {
      let parent = folder == "files" ? filesFolder : jobsFolder
      if try parent.status(of: FileName(id)) != nil {
        let names = (try? parent.subdirectory(id).entries()) ?? []
        // Expiry runs under the store's lock: a large export is freed by the background closer.
        try parent.removeTree(FileName(id), freeingLargeFilesInBackground: true)
        for name in names where !name.hasPrefix(AtomicWriter.temporaryPrefix) {
          changed("\(folder)/\(id)/\(name.display)")
        }
      }
    }
    try jobsFolder.remove(FileName("\(id).json"))
    changed("jobs/\(id).json")
    try jobsFolder.sync()
  }

  /// What the site shows of job `id` (`jobs/<id>.json`), for recovery to rebuild a job whose status file
  /// was damaged: when it was created, the request file it came from, its job type. `nil` if the site has
  /// no readable document for it.
  public func publishedJob(id: String) -> (createdAt: Timestamp, requestFile: String, jobType: String)? {
    guard JobID.isValid(id),
      let bytes = try? FileReader.read(FileName("\(id).json"), in: jobsFolder, limit: 1 << 20),
      let document = try? JSONReader.parse(bytes), let data = document["data"],
      case .string(let created)? = data["timestamps"]?["created_at"],
      let createdAt = Timestamp.parse(created)?.time,
      case .string(let file)? = data["meta"]?["request"]?["file"]
    else { return nil }
    guard case .string(let jobType)? = data["job_type"] else { return (createdAt, file, "") }
    return (createdAt, file, jobType)
  }

  /// The `requests/` document name for a request dropped as `name`: the name, percent-encoded where it is
  /// not a plain URL character, shortened (with a hash) if it would not fit a file name.
  static func requestDocumentName(_ name: String) -> FileName {
    let escaped = OutboxLinks.escape(name)
    guard escaped.utf8.count > 200 else { return FileName(escaped) }
    return FileName(
      String(escaped.prefix(150)) + "-" + SHA256Digest.hex(of: Array(name.utf8)).prefix(16) + ".json")
  }

  /// The Elastic Path error bodies the web server answers with (`errors/404.json`, `errors/405.json`).
  public func publishErrorDocuments() throws {
    let errors = try root.subdirectory("errors", create: true)
    let documents = [
      (
        "404.json",
        #"{"errors":[{"status":404,"title":"Resource Not Found","detail":"No such job, or it has expired."}]}"#
      ),
      (
        "405.json",
        #"{"errors":[{"status":405,"title":"Method Not Allowed","detail":"This site is read-only: drop a request into the inbox to create a job."}]}"#
      ),
    ]
    for (name, body) in documents {
      if try AtomicWriter.writeIfChanged(
        Array((body + "\n").utf8), to: FileName(name), in: errors, syncDirectory: false)
      {
        changed("errors/" + name)
      }
    }
  }

  /// Removes temp files a killed process left behind in the site's root, `jobs/` and `requests/`. Only
  /// call while holding the spool lock.
  public func removeTemporaryFiles() throws {
    for folder in [root, jobsFolder, requestsFolder] { try Outbox.removeTemporaryFiles(in: folder) }
  }

  /// Removes temp files a killed process left behind in job `id`'s `jobs/<id>/` and `files/<id>/` folders
  /// (a job that was running or had succeeded), opening one folder at a time. Only call while holding the
  /// spool lock.
  public func removeTemporaryFiles(job id: String) throws {
    guard JobID.isValid(id) else { return }
    for parent in [jobsFolder, filesFolder] where try parent.status(of: FileName(id)) != nil {
      try Outbox.removeTemporaryFiles(in: try parent.subdirectory(id))
    }
  }

  private static func removeTemporaryFiles(in folder: DirectoryHandle) throws {
    // (A workbook's private temp folder among them.)
    for name in try folder.entries() where name.hasPrefix(AtomicWriter.temporaryPrefix) {
      try folder.removeTree(name)
    }
  }

  /// The job as the documents show it (the `data` of `jobs/<id>.json`), for a webhook's event.
  public static func json(for job: Job, links: OutboxLinks, ttl: Int64) -> [UInt8] {
    JobDocument(job: job, links: links, ttl: ttl).json
  }

  /// The document `jobs/<id>.json` would hold, for `jobdrop status ID` (which opens no outbox: it only
  /// reads).
  public static func document(for job: Job, links: OutboxLinks, ttl: Int64) -> [UInt8] {
    wrap(json(for: job, links: links, ttl: ttl))
  }

  private static func wrap(_ job: [UInt8]) -> [UInt8] {
    Array(#"{"data":"#.utf8) + job + Array("}\n".utf8)
  }
}
