import Foundation
import FuzzSupport
import R2Plus1D

/// libFuzzer entry: the bytes as a MindSpore `.ckpt`, through the entry reader and the whole weight loader.
/// Built with `-sanitize=fuzzer,address -DFUZZING` by scripts/fuzz.sh; otherwise a runner over files.
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    if let entries = try? MindSporeCheckpoint.entries(bytes) {
        for entry in entries {
            precondition(entry.content.count <= size)  // joined chunks are disjoint parts of the file
            if let values = try? entry.doubles() { precondition(values.count == entry.shape.reduce(1, *)) }
        }
    }
    _ = try? WeightFile.decode(bytes)
    return 0
}

@main struct FuzzCheckpointMain {
    static func main() throws {
        try fuzzMain { data, size in fuzzCheckpoint(data ?? UnsafePointer(bitPattern: 1)!, size) }
    }
}
