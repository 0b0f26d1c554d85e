/// The job types jobdrop can run, by name.
public struct Catalog: Sendable {
  /// Every job type, in the order they are listed to partners.
  public let jobTypes: [JobType]

  public init(jobTypes: [JobType]) { self.jobTypes = jobTypes }

  /// The job type called `name`, if any.
  public func jobType(named name: String) -> JobType? { jobTypes.first { $0.name == name } }

  /// The names of all job types, for error messages.
  public var names: [String] { jobTypes.map(\.name) }
}
