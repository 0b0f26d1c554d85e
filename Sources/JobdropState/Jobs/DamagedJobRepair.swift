import JobdropCrypto
import JobdropExport
import JobdropModel
import JobdropSystem
import Logging

/// Rebuilds, at start, the jobs whose status file recovery found damaged (``Spool/Damaged``), so that an
/// upload stays one job under the id its partner was given, and no public document stays `pending`.
///
/// - With its request copy: the job is made again under its own id from the copy's bytes (parsed and
///   validated as the intake would), its partner, request file and creation time taken from its
///   published document (or, without one, from the drop folder holding a file with the same bytes). A
///   partner's upload still in the inbox under that name with those bytes (its grace time) is the job's
///   claimed file: it is taken away, never claimed a second time. The job is `pending` and runs again.
/// - Without its request copy but with a published document: the job is `failed`, saying why.
/// - With neither: nothing of it is left anywhere; the damaged file stays in `damaged/` for the operator.
struct DamagedJobRepair {
  let spool: Spool
  let sites: OutboxSites
  /// The drop folders read, by partner (`nil`: the inbox itself).
  let folders: [String?: Inbox]
  /// Reads and validates a request as the intake does; `nil` in tests that have no catalog.
  let parser: RequestParser?
  let logger: Logger

  /// The error of a damaged job whose request is lost too.
  static let lostError =
    "the job's record in the service's spool was damaged and its request is lost; drop the request again"

  /// The job rebuilt from `damaged`, written into the spool, or `nil` when nothing is left to rebuild.
  func repair(_ damaged: Spool.Damaged, now: Timestamp) throws -> Job? {
    let published = published(damaged.id)
    guard let request = damaged.request else {
      guard let published else { return nil }
      var record = JobRecord(
        id: damaged.id, requestFile: published.document.requestFile, jobType: published.document.jobType,
        request: nil, createdAt: published.document.createdAt, error: DamagedJobRepair.lostError,
        partner: published.partner)
      record.updatedAt = now
      let job = Job(record: record, state: .failed)
      try spool.restore(job, request: [])
      return job
    }
    let sha256 = SHA256Digest.hex(of: request)
    let upload = published.map { ($0.partner, FileName($0.document.requestFile)) } ?? findUpload(sha256)
    let partner = upload?.0 ?? (folders.count == 1 ? folders.keys.first! : nil)
    var record = JobRecord(
      id: damaged.id, requestFile: upload?.1.display ?? "recovered-\(damaged.id).json", jobType: "",
      request: nil, createdAt: published?.document.createdAt ?? damaged.requestWritten ?? now,
      partner: partner)
    record.updatedAt = now
    if let parser {
      do {
        let parsed = try parser.read(request)
        record.request = parsed
        record.jobType = parsed.jobType
        try parser.validate(parsed)
      } catch {
        record.error = error.message
      }
    }
    if let (partner, name) = upload, let folder = folders[partner],
      let status = (try? folder.directory.status(of: name)).flatMap({ $0 }),
      (try? FileReader.read(name, in: folder.directory, limit: RequestParser.maximumSize + 1)).map({
        SHA256Digest.hex(of: $0)
      }) == sha256
    {
      record.inboxClaim = InboxClaim(
        jobID: damaged.id, name: name, identity: FileIdentity(status), sha256: sha256)
    }
    let job = Job(record: record, state: record.error == nil ? .pending : .failed)
    try spool.restore(job)
    return job
  }

  /// The document a site shows of job `id`, and whose site it is.
  private func published(_ id: String) -> (
    partner: String?, document: (createdAt: Timestamp, requestFile: String, jobType: String)
  )? {
    for partner in folders.keys {
      if let site = try? sites.open(partner: partner), let document = site.publishedJob(id: id) {
        return (partner, document)
      }
    }
    return nil
  }

  /// The drop folder and name of an upload with these bytes, when no document says which it was.
  private func findUpload(_ sha256: String) -> (String?, FileName)? {
    for (partner, folder) in folders {
      for name in (try? folder.requestNames()) ?? [] {
        let bytes = try? FileReader.read(name, in: folder.directory, limit: RequestParser.maximumSize + 1)
        if bytes.map({ SHA256Digest.hex(of: $0) }) == sha256 { return (partner, name) }
      }
    }
    return nil
  }
}
