import JobdropModel
import JobdropSystem
import Logging

/// The drop folders jobdrop reads, each with its own ``RequestIntake``: the inbox itself, or with
/// `--partners` one folder per partner, `inbox/<id>/` (created when missing), while files directly in the
/// inbox are not requests and stay where they are.
///
/// ``update(to:)`` follows a reloaded partners file: a new partner's folder appears; a removed partner's
/// folder is no longer read (what it holds stays there).
// @unchecked: its table of intakes is used by one thread only (the intake's, or the batch run's): a
// Mutex would guard nothing.
public final class IntakeSet: @unchecked Sendable {
  /// The inbox folder.
  public let root: Inbox
  public let store: JobStore
  let parser: RequestParser
  let settleMilliseconds: Int64
  let graceMilliseconds: Int64
  /// The partners in force, with `--partners`.
  public let partners: PartnerRegistry?
  let schedules: Schedules?
  let logger: Logger
  private var intakes: [String?: RequestIntake] = [:]

  public init(
    root: Inbox, store: JobStore, parser: RequestParser, settleMilliseconds: Int64, graceMilliseconds: Int64,
    partners: PartnerRegistry?, schedules: Schedules? = nil, logger: Logger
  ) throws(FileSystemError) {
    self.schedules = schedules
    self.root = root
    self.store = store
    self.parser = parser
    self.settleMilliseconds = settleMilliseconds
    self.graceMilliseconds = graceMilliseconds
    self.partners = partners
    self.logger = logger
    if let partners {
      _ = try update(to: partners.list)
    } else {
      intakes[nil] = makeIntake(inbox: root, partner: nil)
    }
  }

  private func makeIntake(inbox: Inbox, partner: String?) -> RequestIntake {
    RequestIntake(
      inbox: inbox, store: store, parser: parser, settleMilliseconds: settleMilliseconds,
      graceMilliseconds: graceMilliseconds, partner: partner, partners: partners, schedules: schedules,
      logger: logger)
  }

  /// Every intake, with its partner (`nil`: the inbox itself).
  public var all: [(partner: String?, intake: RequestIntake)] {
    intakes.map { ($0.key, $0.value) }.sorted { ($0.partner ?? "") < ($1.partner ?? "") }
  }

  /// The intake of `partner`'s folder (`nil`: the inbox itself), if it is read.
  public func intake(for partner: String?) -> RequestIntake? { intakes[partner] }

  /// The folders read, as paths, with their partner.
  public var folders: [(path: String, partner: String?)] {
    all.map { ($0.intake.inbox.directory.path, $0.partner) }
  }

  /// Opens the folders of the partners in `list` that have none yet (creating `inbox/<id>/` and the
  /// site `outbox/<id>/`), and stops reading those of partners no longer in it (their claimed files are
  /// retired first). Returns the ids added and removed. A folder that cannot be created is logged and
  /// tried again at the next update.
  @discardableResult
  public func update(to list: PartnerList) throws(FileSystemError) -> (added: [String], removed: [String]) {
    var added: [String] = []
    var removed: [String] = []
    var firstError: FileSystemError?
    for id in list.ids where intakes[id] == nil {
      do {
        let inbox = try Inbox(path: "\(root.directory.path)/\(id)")
        _ = try store.sites.open(partner: id)
        store.touchSite(partner: id)
        intakes[id] = makeIntake(inbox: inbox, partner: id)
        added.append(id)
      } catch {
        logger.error(
          "cannot open the partner's folders", metadata: ["partner": "\(id)", "error": "\(error)"])
        firstError = firstError ?? error
      }
    }
    let served = Set(list.ids)
    for (partner, intake) in intakes {
      guard let partner, !served.contains(partner) else { continue }
      intake.retireAll()
      intakes[partner] = nil
      removed.append(partner)
    }
    if let firstError, intakes.isEmpty { throw firstError }
    return (added, removed.sorted())
  }

  /// Looks at every request in every folder once (see ``RequestIntake/scan()``). The names in the pass's
  /// `waiting` and `retiring` may come from several folders: use it for its times.
  /// The claims of a pass are made durable in groups (``ClaimGroup``), all of them before it returns.
  public func scan() throws(FileSystemError) -> RequestIntake.Pass {
    var pass = RequestIntake.Pass()
    let group = ClaimGroup()
    for (_, intake) in all {
      var one = try intake.scan(group: group)
      RequestIntake.commit(group, store: store, into: &one)
      pass.claimed += one.claimed
      pass.waiting.merge(one.waiting) { min($0, $1) }
      pass.retiring.merge(one.retiring) { min($0, $1) }
    }
    return pass
  }

  /// Takes every claimed file away now in every folder; returns the new uploads found under claimed names.
  @discardableResult
  public func retireAll() -> [FileName] {
    all.flatMap { $0.intake.retireAll() }
  }
}
