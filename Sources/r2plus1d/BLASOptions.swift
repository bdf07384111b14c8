import ArgumentParser
import R2Plus1D

/// `--blas-kernels`, declared for the commands that run the network. `BLASStartup` reads it from the raw
/// arguments before parsing, because the choice has to be made before OpenBLAS runs anything.
struct BLASOptions: ParsableArguments {
    @Option(name: .customLong("blas-kernels"),
            help: "OpenBLAS kernel set: auto (the best this CPU runs, proved by a start-up self-test; an OPENBLAS_CORETYPE set by the operator is kept) or one of \(BLASKernelSet.selectable.map(\.name).joined(separator: ", ")).")
    var blasKernels = "auto"
}
