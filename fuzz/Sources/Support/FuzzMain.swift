import Foundation

/// A fuzz target's whole `main`. Built with `-DFUZZING` (scripts/fuzz.sh, with `-sanitize=fuzzer,address`):
/// libFuzzer's driver, taking libFuzzer's arguments. Otherwise: replays the files named on the command line
/// through `test`, for regression runs of saved findings.
public func fuzzMain(_ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) throws -> Never {
    #if FUZZING
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, test))
    #else
    for path in CommandLine.arguments.dropFirst() {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        _ = data.withUnsafeBytes { test($0.bindMemory(to: UInt8.self).baseAddress, data.count) }
    }
    exit(0)
    #endif
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
#endif
