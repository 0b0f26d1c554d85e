import JobdropSystem

/// Requests claimed together (a group commit): each claim's request copy and status file are written as
/// temp files when the request is taken, and ``JobStore/commitClaims(_:)`` makes them all durable with
/// two file-system flushes (``GroupWrite``) before any of the jobs is queued or published. A burst of
/// drops then pays two flushes per group instead of four fsyncs per request.
///
/// Until the commit the claims count for the store's checks (a partner's limit, an idempotency key) but
/// are neither run nor shown, and their inbox files stay where they are: a commit that fails leaves
/// every request in the inbox to be claimed again.
public final class ClaimGroup {
  /// The most claims in one group (an intake commits a full group at once).
  public static let largest = 64
  /// How long the first claim of a group waits for others before the group is committed: the head of a
  /// long backlog starts running at once.
  public static let dueMilliseconds: Int64 = 10

  var writes = GroupWrite()
  /// The claims to insert into a shared table (``SharedJobBackend``) in one transaction.
  var rows: [PostgresSpool.Claim] = []
  var jobs: [(job: Job, delivery: WebhookDelivery?)] = []
  /// Who took each claim and its job, to be told whether the commit succeeded.
  public private(set) var takers: [(intake: RequestIntake, name: FileName, job: Job)] = []

  public init() {}

  public var isEmpty: Bool { jobs.isEmpty }
  /// Full, or its first claim has waited ``dueMilliseconds``: commit it now.
  public var isDue: Bool {
    jobs.count >= ClaimGroup.largest
      || (!jobs.isEmpty && ConditionLock.monotonicMilliseconds() - firstAt >= ClaimGroup.dueMilliseconds)
  }
  private var firstAt: Int64 = 0

  func taken(by intake: RequestIntake, name: FileName, job: Job) {
    if takers.isEmpty { firstAt = ConditionLock.monotonicMilliseconds() }
    takers.append((intake, name, job))
  }

  func clear() {
    writes = GroupWrite()
    rows.removeAll()
    jobs.removeAll()
    takers.removeAll()
  }
}
