import Foundation

/// The package checkout, and the executable `scripts/test.sh` builds in it.
public enum Executable {
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// `.build/debug/r2plus1d`: the tests that start the server or its decode workers run this binary.
    public static let r2plus1d = packageRoot.appendingPathComponent(".build/debug/r2plus1d").path
}
