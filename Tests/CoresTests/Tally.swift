import Glibc
import Synchronization

/// How often each index ran, and the most that ran at once (each holds its place for a millisecond so that
/// overlapping runs are seen).
final class Tally: Sendable {
    private let state: Mutex<(counts: [Int], running: Int, most: Int)>

    init(_ count: Int) { state = Mutex(([Int](repeating: 0, count: count), 0, 0)) }

    func enter(_ i: Int) {
        state.withLock {
            $0.counts[i] += 1
            $0.running += 1
            $0.most = max($0.most, $0.running)
        }
        usleep(1000)
        state.withLock { $0.running -= 1 }
    }

    var counts: [Int] { state.withLock { $0.counts } }
    var mostAtOnce: Int { state.withLock { $0.most } }
}
