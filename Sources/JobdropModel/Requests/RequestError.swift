/// Why a request file cannot become a runnable job: the text partners read in the job's `error`.
///
/// Reads like `data.job_type: unknown job type 'orders' (job types: order_export)` or
/// `request is not valid JSON: unexpected end of input at line 1, column 31`.
public struct RequestError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  /// The JSON was cut short: the file may still be being written, so it is worth reading again.
  public var isTruncated: Bool

  public init(_ message: String, isTruncated: Bool = false) {
    self.message = message
    self.isTruncated = isTruncated
  }

  public var description: String { message }
}
