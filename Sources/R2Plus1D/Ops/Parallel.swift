import Dispatch

/// Runs `body(i)` for i in 0..<count, split into `parts` contiguous ranges run side by side when parts > 1; the
/// ranges go to whichever thread is free (libdispatch hands out iterations one at a time).
/// Each i must touch memory no other i touches.
func parallelFor(_ count: Int, parts: Int, _ body: (Int) -> Void) {
    parallelRanges(count, parts: parts) { range in
        for i in range { body(i) }
    }
}

/// `parallelFor` that hands each part its whole range, so that a part sets up its scratch buffers once.
func parallelRanges(_ count: Int, parts: Int, _ body: (Range<Int>) -> Void) {
    let parts = min(parts, count)
    guard parts > 1 else {
        if count > 0 { body(0..<count) }
        return
    }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let work = body
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            work((count * part / parts)..<(count * (part + 1) / parts))
        }
    }
}
