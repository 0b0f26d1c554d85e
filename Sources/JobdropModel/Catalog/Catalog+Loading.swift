import FoundationEssentials
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

extension Catalog {
  /// The shape of a catalog file: `{"job_types": [JobType, …]}`.
  struct File: Codable {
    var jobTypes: [JobType]
    enum CodingKeys: String, CodingKey { case jobTypes = "job_types" }
  }

  /// Reads and validates the catalog file at `path`.
  public static func load(path: String) throws(CatalogError) -> Catalog {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw CatalogError(origin: path, String(cString: strerror(errno))) }
    defer { close(descriptor) }
    let bytes: [UInt8]
    do {
      bytes = try FileReader.readAll(descriptor, limit: 16 << 20, path: path)
    } catch {
      throw CatalogError(origin: path, error.reason)
    }
    return try decode(bytes, origin: path)
  }

  /// Decodes and validates catalog JSON; `origin` names it in errors.
  public static func decode(_ bytes: [UInt8], origin: String) throws(CatalogError) -> Catalog {
    do {
      _ = try JSONReader.parse(bytes)
    } catch {
      throw CatalogError(origin: origin, "not valid JSON: \(error)")
    }
    let file: File
    do {
      file = try JSONDecoder().decode(File.self, from: Data(bytes))
    } catch let error as DecodingError {
      throw CatalogError(origin: origin, CatalogValidator.describe(error))
    } catch {
      throw CatalogError(origin: origin, "\(error)")
    }
    let catalog = Catalog(jobTypes: file.jobTypes)
    try CatalogValidator(origin: origin).validate(catalog)
    return catalog
  }

  /// The catalog as JSON, in the file format.
  public func json() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(File(jobTypes: jobTypes)), as: UTF8.self)
  }
}
