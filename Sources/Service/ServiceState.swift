import Synchronization

/// Loading, then ready, then draining; and how much classification work is under way. Shared by the routes,
/// the metrics and the process that watches for idleness.
final class ServiceState: Sendable {
    enum Phase: Int {
        case loading, ready, draining
        var name: String { ["loading", "ready", "draining"][rawValue] }
    }

    private let phase = Atomic<Int>(Phase.loading.rawValue)
    private let inFlight = Atomic<Int>(0)
    private let started = Atomic<Int>(0)
    private let decoding = Atomic<Int>(0)

    var current: Phase { Phase(rawValue: phase.load(ordering: .acquiring))! }

    /// Loading -> ready, unless a drain began first.
    func becomeReady() {
        _ = phase.compareExchange(expected: Phase.loading.rawValue, desired: Phase.ready.rawValue, ordering: .acquiringAndReleasing)
    }

    func beginDraining() { phase.store(Phase.draining.rawValue, ordering: .releasing) }

    /// Classifications being decoded, queued or computed.
    var inFlightCount: Int { inFlight.load(ordering: .relaxed) }
    var startedCount: Int { started.load(ordering: .relaxed) }
    /// Requests being decoded: the batch workers wait for their clips, and only for theirs.
    var decodingCount: Int { decoding.load(ordering: .relaxed) }

    /// Counts `body` as one classification in flight.
    func classifying<T>(_ body: () async throws -> T) async rethrows -> T {
        inFlight.add(1, ordering: .relaxed)
        started.add(1, ordering: .relaxed)
        defer { inFlight.subtract(1, ordering: .relaxed) }
        return try await body()
    }

    /// Counts `body` as one upload decoding.
    func decodingUpload<T>(_ body: () async throws -> T) async rethrows -> T {
        decoding.add(1, ordering: .relaxed)
        defer { decoding.subtract(1, ordering: .relaxed) }
        return try await body()
    }
}
