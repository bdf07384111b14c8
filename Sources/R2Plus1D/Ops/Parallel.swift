import Dispatch

/// Runs `body(i)` for i in 0..<count, split into `parts` contiguous ranges run side by side when parts > 1; the
/// ranges go to whichever thread is free (libdispatch hands out iterations one at a time).
/// Each i must touch memory no other i touches.
func parallelFor(_ count: Int, parts: Int, _ body: (Int) -> Void) {
    let parts = min(parts, count)
    guard parts > 1 else {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let work = body
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            for i in (count * part / parts)..<(count * (part + 1) / parts) { work(i) }
        }
    }
}
