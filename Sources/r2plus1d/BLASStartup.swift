import Cores
import Foundation
import Glibc
import R2Plus1D

/// Chooses and proves the OpenBLAS kernel set before anything else runs (`BLASKernelChoice` decides, this does).
///
/// OpenBLAS reads OPENBLAS_CORETYPE only when it loads, which is before `main`; to load another set the process
/// executes itself again with the variable set, and a marker variable that tells the new image the choice is made.
/// The new image then restores the operator's environment, so processes it starts see what the operator set.
enum BLASStartup {
    static let coreType = "OPENBLAS_CORETYPE"
    /// `BLASKernelChoice.marker` of the choice being loaded.
    static let choiceMarker = "R2PLUS1D_BLAS_CHOICE"
    /// The operator's own OPENBLAS_CORETYPE, kept while ours is in force.
    static let operatorCoreType = "R2PLUS1D_OPERATOR_CORETYPE"

    /// - Throws: `BLASKernelError` when the requested set cannot run here or no set passes the self-test.
    static func run(arguments: [String]) throws {
        let cpu = CPUFeatures.current
        var choice: BLASKernelChoice
        if let marker = environment(choiceMarker) {
            restoreOperatorEnvironment()
            guard let wanted = BLASKernelChoice(marker: marker) else { throw BLASKernelError.unknownName(marker) }
            choice = try confirm(wanted, loaded: BLASKernels.loaded)
        } else {
            let request = try BLASKernelChoice.Request(parsing: requested(in: arguments))
            switch try BLASKernelChoice.plan(cpu: cpu, openBLASPick: BLASKernels.loaded, environment: environment(coreType),
                                             request: request) {
            case .keep(let kept): choice = kept
            case .reload(let next):
                if case .pinReplaced = next.source { warn("OpenBLAS kernels: \(next)") }
                reload(next)
                choice = BLASKernelChoice(kernels: BLASKernelSet(BLASKernels.loaded), source: .openBLAS)
            }
        }
        if let failure = BLASSelfTest.run() {
            warn("OpenBLAS's \(choice.kernels) kernels failed the start-up self-test: \(failure)")
            reload(try BLASKernelChoice.fallback(after: choice, reason: failure, cpu: cpu))
            throw BLASKernelError.selfTestFailed(choice.kernels, reason: failure)
        }
        BLASKernels.selection = choice
        // OpenBLAS starts one thread per core it sees, blind to a container's CPU quota; an operator's own
        // thread count stands.
        if environment("OPENBLAS_NUM_THREADS") == nil && environment("OMP_NUM_THREADS") == nil {
            BLASThreads.set(min(BLASThreads.current, Cores.available))
        }
    }

    /// The value of the last `--blas-kernels` before a `--`, or "auto".
    static func requested(in arguments: [String]) -> String {
        var value = "auto"
        var index = 0
        while index < arguments.count, arguments[index] != "--" {
            let argument = arguments[index]
            if argument == "--blas-kernels", index + 1 < arguments.count {
                value = arguments[index + 1]
                index += 1
            } else if argument.hasPrefix("--blas-kernels=") {
                value = String(argument.dropFirst("--blas-kernels=".count))
            }
            index += 1
        }
        return value
    }

    /// The new image loaded `wanted.kernels`, or OpenBLAS ignored the name.
    static func confirm(_ wanted: BLASKernelChoice, loaded: String) throws -> BLASKernelChoice {
        if loaded.lowercased() == wanted.kernels.name.lowercased() { return wanted }
        if wanted.source == .option { throw BLASKernelError.notAvailable(wanted.kernels, loaded: loaded) }
        warn("asked OpenBLAS for its \(wanted.kernels) kernels (\(wanted.how)); it loaded \(loaded)")
        return BLASKernelChoice(kernels: BLASKernelSet(loaded), source: .openBLAS)
    }

    /// Executes this program again with `choice` in force; returns only if that fails (the loaded set then stays).
    static func reload(_ choice: BLASKernelChoice) {
        if let original = environment(coreType), environment(operatorCoreType) == nil {
            setenv(operatorCoreType, original, 1)
        }
        setenv(coreType, choice.kernels.name, 1)
        setenv(choiceMarker, choice.marker, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        let reason = String(cString: strerror(errno))
        restoreOperatorEnvironment()
        warn("cannot execute itself again to load OpenBLAS's \(choice.kernels) kernels (\(reason)); running \(BLASKernels.loaded)")
    }

    static func restoreOperatorEnvironment() {
        if let original = environment(operatorCoreType) { setenv(coreType, original, 1) } else { unsetenv(coreType) }
        unsetenv(operatorCoreType)
        unsetenv(choiceMarker)
    }

    static func environment(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("r2plus1d: \(message)\n".utf8))
    }
}
