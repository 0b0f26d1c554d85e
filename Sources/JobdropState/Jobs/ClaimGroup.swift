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

  var writes = GroupWrite()
  var jobs: [(job: Job, delivery: WebhookDelivery?)] = []
  /// Who took each claim, to be told when the commit fails.
  public private(set) var takers: [(intake: RequestIntake, name: FileName)] = []

  public init() {}

  public var isEmpty: Bool { jobs.isEmpty }
  public var isFull: Bool { jobs.count >= ClaimGroup.largest }

  func taken(by intake: RequestIntake, name: FileName) { takers.append((intake, name)) }

  func clear() {
    writes = GroupWrite()
    jobs.removeAll()
    takers.removeAll()
  }
}
