import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The partners one jobdrop serves, read from the `--partners` file and checked whole: ids, tokens, limits
/// and every scope compiled against its job type. A file that fails any check is refused as a whole.
///
/// ```json
/// {"partners": [{"id": "acme", "token": "…", "scope": {"*": "eq(store,store-1)"}, "max_pending": 20}]}
/// ```
public struct PartnerList: Sendable, Equatable {
  /// In the order of the file.
  public let partners: [Partner]

  public init(partners: [Partner]) { self.partners = partners }

  /// The partner called `id`, if it is in the list.
  public func partner(id: String) -> Partner? { partners.first { $0.id == id } }

  /// The ids, in the order of the file.
  public var ids: [String] { partners.map(\.id) }

  /// The largest partners file read.
  static let maximumSize = 4 << 20
  /// The shortest token accepted.
  public static let minimumTokenLength = 32

  /// Reads and checks the file at `path`. It must not be readable or writable by group or others: it
  /// holds the partners' tokens (as ssh refuses a private key others can read).
  public static func load(path: String, catalog: Catalog) throws(PartnersError) -> PartnerList {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw PartnersError(file: path, String(cString: strerror(errno))) }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
      throw PartnersError(file: path, String(cString: strerror(errno)))
    }
    guard info.st_mode & S_IFMT == S_IFREG else { throw PartnersError(file: path, "not a regular file") }
    if info.st_mode & 0o077 != 0 {
      let mode = String(info.st_mode & 0o7777, radix: 8)
      throw PartnersError(
        file: path,
        "holds the partners' tokens but is open to group or others (mode 0\(mode)); make it readable by jobdrop only: chmod 600 \(path)"
      )
    }
    let bytes: [UInt8]
    do {
      bytes = try FileReader.readAll(descriptor, limit: maximumSize + 1, path: path)
    } catch {
      throw PartnersError(file: path, error.reason)
    }
    guard bytes.count <= maximumSize else { throw PartnersError(file: path, "larger than 4 MiB") }
    return try parse(bytes, file: path, catalog: catalog)
  }

  /// Parses and checks a partners file's content; `file` names it in errors.
  public static func parse(_ bytes: [UInt8], file: String, catalog: Catalog) throws(PartnersError)
    -> PartnerList
  {
    let document: JSONValue
    do {
      document = try JSONReader.parse(bytes)
    } catch {
      throw PartnersError(file: file, "not valid JSON: \(error)")
    }
    guard case .array(let entries)? = document["partners"] else {
      throw PartnersError(file: file, #"expected {"partners": [{"id": …, "token": …, "scope": {…}}, …]}"#)
    }
    var partners: [Partner] = []
    var ids = Set<String>()
    var tokens = Set<String>()
    for (index, entry) in entries.enumerated() {
      let partner = try PartnerEntry(file: file, index: index, catalog: catalog).read(entry)
      guard ids.insert(partner.id).inserted else {
        throw PartnersError(file: file, "partner '\(partner.id)': the id is used twice")
      }
      guard tokens.insert(partner.token).inserted else {
        throw PartnersError(
          file: file, "partner '\(partner.id)': token: the same token is given to another partner")
      }
      partners.append(partner)
    }
    return PartnerList(partners: partners)
  }
}

/// Reads one entry of a partners file; every error names the file, the partner and the key.
private struct PartnerEntry {
  let file: String
  let index: Int
  let catalog: Catalog

  static let keys: Set<String> = [
    "id", "token", "scope", "max_pending", "max_schedules", "webhook", "deliver", "name",
  ]

  func read(_ entry: JSONValue) throws(PartnersError) -> Partner {
    guard case .object(let members) = entry else {
      throw PartnersError(file: file, "partners[\(index)]: expected an object, found \(entry.kind)")
    }
    guard case .string(let id)? = entry["id"] else {
      throw PartnersError(file: file, "partners[\(index)].id: missing, or not a string")
    }
    guard Partner.isValidID(id) else {
      throw PartnersError(
        file: file,
        "partners[\(index)].id: '\(id.prefix(80))' is not a partner id: 1 to 63 of a-z 0-9 _ -, starting with a letter or digit"
      )
    }
    func fail(_ message: String) -> PartnersError { PartnersError(file: file, "partner '\(id)': \(message)") }
    for member in members where !PartnerEntry.keys.contains(member.key) {
      throw fail(
        "unknown key '\(member.key.prefix(80))' (keys: id, token, scope, max_pending, max_schedules, webhook, deliver)"
      )
    }
    guard case .string(let token)? = entry["token"] else { throw fail("token: missing, or not a string") }
    guard token.count >= PartnerList.minimumTokenLength else {
      throw fail("token: at least \(PartnerList.minimumTokenLength) characters, got \(token.count)")
    }
    guard Partner.isValidToken(token) else {
      throw fail("token: only letters, digits and - . _ ~ + / = may be used")
    }
    guard case .object(let scopeMembers)? = entry["scope"] else {
      throw fail(
        #"scope: missing; give a filter for each job type it may run, e.g. {"*": "eq(store,store-1)"}"#)
    }
    var scopes: [String: String] = [:]
    var excluded: [String: String] = [:]
    for (jobTypeName, value) in scopeMembers {
      guard case .string(let text) = value else {
        throw fail("scope '\(jobTypeName)': expected a filter string, found \(value.kind)")
      }
      guard scopes[jobTypeName] == nil else { throw fail("scope '\(jobTypeName)': named twice") }
      if jobTypeName == "*" {
        scopes["*"] = text
        continue
      }
      guard let jobType = catalog.jobType(named: jobTypeName) else {
        throw fail(
          "scope '\(jobTypeName)': unknown job type (job types: \(catalog.names.joined(separator: ", ")))")
      }
      do {
        _ = try FilterCompiler(jobType: jobType).compile(text)
      } catch {
        throw fail("scope '\(jobTypeName)': \(error)")
      }
      scopes[jobTypeName] = text
    }
    if let wildcard = scopes["*"] {
      // "*" covers every job type not named; those it does not compile against are not enabled.
      for jobType in catalog.jobTypes where scopes[jobType.name] == nil {
        do {
          _ = try FilterCompiler(jobType: jobType).compile(wildcard)
        } catch {
          excluded[jobType.name] = error.description
        }
      }
      if excluded.count == catalog.jobTypes.filter({ scopes[$0.name] == nil }).count && !excluded.isEmpty {
        throw fail("scope '*': applies to no job type: \(excluded.values.sorted().first ?? "")")
      }
    }
    var maximumPending = Partner.defaultMaximumPending
    if let value = entry["max_pending"], value != .null {
      guard case .number(let text) = value, let number = Int(text), (1...1_000_000).contains(number) else {
        throw fail("max_pending: expected a whole number from 1 to 1000000")
      }
      maximumPending = number
    }
    var maximumSchedules = Partner.defaultMaximumSchedules
    if let value = entry["max_schedules"], value != .null {
      guard case .number(let text) = value, let number = Int(text), (0...10_000).contains(number) else {
        throw fail("max_schedules: expected a whole number from 0 to 10000")
      }
      maximumSchedules = number
    }
    var webhook: WebhookTarget?
    if let value = entry["webhook"], value != .null {
      guard case .string(let url)? = value["url"], case .string(let text)? = value["secret"] else {
        throw fail(#"webhook: expected {"url": "https://…", "secret": "whsec_…"}"#)
      }
      guard WebhookTarget.isAllowed(url) else {
        throw fail("webhook.url: expected an http:// or https:// URL")
      }
      guard let secret = WebhookSecret(text) else { throw fail("webhook.secret: \(WebhookSecret.expected)") }
      webhook = WebhookTarget(url: url, secret: secret)
    }
    var partner = Partner(
      id: id, token: token, scopes: scopes, excluded: excluded, maximumPending: maximumPending,
      webhook: webhook)
    partner.maximumSchedules = maximumSchedules
    if let value = entry["deliver"], value != .null {
      do {
        partner.deliver = try DeliveryTarget.parse(value)
      } catch {
        throw fail(error.message)
      }
    }
    return partner
  }
}
