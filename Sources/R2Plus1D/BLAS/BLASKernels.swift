import CBLAS
import Synchronization

/// The kernel set OpenBLAS runs in this process and how it was chosen.
public enum BLASKernels {
    /// What `openblas_get_corename` says is loaded ("Haswell", "SkylakeX", ...).
    public static var loaded: String { String(cString: openblas_get_corename()) }

    private static let chosen = Mutex<BLASKernelChoice?>(nil)

    /// The choice made at start-up; before any was recorded, OpenBLAS's own pick (or the environment's).
    public static var selection: BLASKernelChoice {
        get {
            chosen.withLock { $0 } ?? BLASKernelChoice(
                kernels: BLASKernelSet(loaded), source: getenvString("OPENBLAS_CORETYPE") == nil ? .openBLAS : .environment)
        }
        set { chosen.withLock { $0 = newValue } }
    }

    /// "SkylakeX (chosen from CPUID: ...)".
    public static var name: String { selection.description }

    /// For the operator, when their OPENBLAS_CORETYPE holds the engine below what this CPU runs; nil otherwise.
    public static var pinNotice: String? {
        guard let stronger = selection.strongerSet(on: .current) else { return nil }
        return "OPENBLAS_CORETYPE pins OpenBLAS's \(selection.kernels) kernels, weaker than this CPU runs: "
            + "--blas-kernels \(stronger) (or unsetting the variable) runs the network faster"
    }
}

func getenvString(_ name: String) -> String? {
    guard let value = getenv(name), value.pointee != 0 else { return nil }
    return String(cString: value)
}
