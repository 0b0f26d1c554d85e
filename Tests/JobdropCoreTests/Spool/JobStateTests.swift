import Testing

@testable import JobdropState

@Suite(.timeLimit(.minutes(10))) struct JobStateTests {
  @Test(arguments: [
    (JobState.pending, JobState.started), (.pending, .failed), (.started, .success), (.started, .failed),
    (.started, .pending),
  ])
  func allowsLegalMoves(from: JobState, to: JobState) {
    #expect(from.canMove(to: to))
  }

  @Test(arguments: [
    (JobState.pending, JobState.success), (.pending, .pending), (.started, .started), (.success, .pending),
    (.success, .started), (.success, .failed), (.failed, .pending), (.failed, .started), (.failed, .success),
  ])
  func refusesIllegalMoves(from: JobState, to: JobState) {
    #expect(!from.canMove(to: to))
  }

  @Test func rawValuesAreTheFolderNames() {
    #expect(JobState.allCases.map(\.rawValue) == ["pending", "started", "success", "failed"])
  }
}
