import JobdropModel
import JobdropSystem

/// libFuzzer targets for the parsers partners can reach: the request parser (both dialects, through the
/// built-in catalog) and the filter language (through `order_export`). Each input must be refused with
/// an error or accepted; a crash, hang or sanitizer report is a bug.
///
/// `make fuzz` builds this with `-sanitize=fuzzer,address -DFUZZING`; otherwise it is a small command
/// that replays corpus files: `jobdrop-fuzz FILE…`.
enum FuzzTarget {
  static let parser = RequestParser(catalog: .builtIn)
  static let compiler = FilterCompiler(jobType: .orderExport)

  /// Runs one input through both parsers; returns how many accepted it (0, 1 or 2).
  @discardableResult
  static func run(_ bytes: [UInt8]) -> Int {
    var accepted = 0
    if (try? parser.parse(bytes)) != nil { accepted += 1 }
    if let text = String(validating: bytes, as: UTF8.self), (try? compiler.compile(text)) != nil {
      accepted += 1
    }
    return accepted
  }
}

#if FUZZING
  /// libFuzzer's entry point for a program that has its own `main` (SwiftPM names the executable's
  /// entry `jobdrop_fuzz_main`).
  @_silgen_name("LLVMFuzzerRunDriver")
  func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
  ) -> CInt

  @_cdecl("jobdrop_fuzz_main")
  func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in
      guard let data else { return 0 }
      FuzzTarget.run(Array(UnsafeBufferPointer(start: data, count: size)))
      return 0
    }
  }
#else
  #if canImport(Glibc)
    import Glibc
  #endif

  @main
  struct FuzzReplay {
    static func main() throws {
      var files = 0
      var accepted = 0
      for path in CommandLine.arguments.dropFirst() {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { continue }
        defer { close(descriptor) }
        let bytes = try FileReader.readAll(descriptor, limit: 2 << 20, path: path)
        accepted += FuzzTarget.run(bytes)
        files += 1
      }
      print("replayed \(files) inputs; \(accepted) parses accepted")
    }
  }
#endif
