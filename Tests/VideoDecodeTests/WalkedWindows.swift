import Foundation
import VideoDecode

/// Every window's values and frame times from a timeline walk over `bytes`, `chunk` windows a pass.
func walkedWindows(_ bytes: Data, chunk: Int = 2, starts: [Double]) throws -> (values: [Float], times: [Double]) {
    var values: [Float] = [], times: [Double] = []
    try ClipDecoder.walk(bytes, chunk: chunk, starts: { _ in starts }) { clips in
        values += clips.values
        times += clips.frameTimes.joined()
        return true
    }
    return (values, times)
}
