import JobdropCrypto
import JobdropExport
import JobdropModel
import JobdropSystem

/// A split export's files in `files/<id>/`: its parts, each published (durable, under its final name)
/// as soon as it is complete, and `manifest.json`, written again after every part.
///
/// The manifest lists only complete parts and says `"complete": false` until the last part is in; a
/// reader never finds a part half-written under its name (parts are written under a temp name and
/// renamed), nor a manifest that calls an unfinished export complete. A run that does not end in
/// `success` removes every part and the manifest (``discard()``).
final class PartedExport {
  static let manifestName = "manifest.json"

  struct PartEntry {
    var name: String
    var rows: Int
    var bytes: Int
    var sha256: String
  }

  private let site: Outbox
  private let directory: DirectoryHandle
  private let jobID: String
  private let baseName: String
  private let format: ExportRequest.Format
  private let makeWriter: (ExportFile) throws -> any RowWriter
  private var current: ExportFile?
  private(set) var parts: [PartEntry] = []

  /// `baseName`: the name a single file would have, without its extension (`order_export-<created>`).
  init(
    site: Outbox, directory: DirectoryHandle, jobID: String, baseName: String, format: ExportRequest.Format,
    makeWriter: @escaping (ExportFile) throws -> any RowWriter
  ) {
    self.site = site
    self.directory = directory
    self.jobID = jobID
    self.baseName = baseName
    self.format = format
    self.makeWriter = makeWriter
  }

  deinit { current?.discard() }

  /// The name of part `number`: `<base>-00001.<ext>`.
  func partName(_ number: Int) -> String {
    let digits = String(number)
    return baseName + "-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + "."
      + format.fileExtension
  }

  /// The writer that cuts the rows into parts.
  func writer(split: ExportRequest.Split, guardFormulas: Bool) -> SplitWriter {
    SplitWriter(
      split: split, guardFormulas: guardFormulas,
      open: { [unowned self] number in
        let file = try ExportFile(directory: directory, name: FileName(partName(number)))
        current = file
        return SplitWriter.Part(writer: try makeWriter(file), fileBytes: { [unowned file] in file.byteCount })
      },
      close: { [unowned self] number, rows in try publishPart(number, rows: rows) })
  }

  /// Publishes the part just finished, then the manifest that lists it.
  private func publishPart(_ number: Int, rows: Int) throws {
    guard let file = current else { return }
    current = nil
    let sha256 = try file.publish()
    let name = partName(number)
    parts.append(PartEntry(name: name, rows: rows, bytes: file.byteCount, sha256: sha256))
    site.exportPublished(id: jobID, name: name)
    CrashPoint.reached("part-published")
    _ = try publishManifest(complete: false)
  }

  /// Writes `manifest.json` durably; returns its size and SHA-256.
  func publishManifest(complete: Bool) throws -> (bytes: Int, sha256: String) {
    let bytes = manifest(complete: complete)
    try AtomicWriter.write(bytes, to: FileName(PartedExport.manifestName), in: directory)
    site.exportPublished(id: jobID, name: PartedExport.manifestName)
    return (bytes.count, SHA256Digest.hex(of: bytes))
  }

  /// The manifest: `{"bytes", "complete", "format", "job", "parts": [{"bytes", "href", "rows",
  /// "sha256"}], "rows"}`, the totals the sums of the parts.
  func manifest(complete: Bool) -> [UInt8] {
    var json = JSONText()
    json.beginObject()
    json.field("bytes", parts.reduce(0) { $0 + $1.bytes })
    json.field("complete", complete)
    json.field("format", format.rawValue)
    json.field("job", jobID)
    json.field("parts", objects: parts) { json, part in
      json.field("bytes", part.bytes)
      json.field("href", site.links.file(id: jobID, name: part.name))
      json.field("rows", part.rows)
      json.field("sha256", part.sha256)
    }
    json.field("rows", parts.reduce(0) { $0 + $1.rows })
    json.endObject()
    return json.bytes + [0x0A]
  }

  /// Removes every part and the manifest (the run failed, was cancelled or cut short).
  func discard() {
    current?.discard()
    current = nil
    site.removeExport(id: jobID)
  }
}
