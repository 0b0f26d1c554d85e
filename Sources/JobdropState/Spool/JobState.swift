/// Where a job is in its life: `pending → started → success | failed`.
///
/// The raw value is the spool folder that holds the job's status file, so moving a job is renaming
/// that file between folders. ``canMove(to:)`` is the whole state machine.
public enum JobState: String, Codable, Sendable, CaseIterable, Comparable {
  case pending, started, success, failed

  /// The states a job in this state may move to.
  public var successors: [JobState] {
    switch self {
    case .pending: [.started, .failed]
    // Back to pending: the run was cut short (shutdown, crash recovery, a transient source failure).
    case .started: [.success, .failed, .pending]
    case .success, .failed: []
    }
  }

  /// Whether `self → target` is a legal move.
  public func canMove(to target: JobState) -> Bool { successors.contains(target) }

  /// Whether the job is finished.
  public var isFinal: Bool { successors.isEmpty }

  public static func < (lhs: JobState, rhs: JobState) -> Bool {
    allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
  }
}

/// A move the state machine does not allow, e.g. `success → started`.
public struct IllegalTransition: Error, Sendable, Equatable, CustomStringConvertible {
  public var id: String
  public var from: JobState
  public var to: JobState

  public var description: String { "job \(id): cannot move from \(from.rawValue) to \(to.rawValue)" }
}
