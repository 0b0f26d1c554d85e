/// A bad flag, environment variable or setting, found at start; the message names the option.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String

  public init(_ message: String) { self.message = message }

  public var description: String { message }
}
