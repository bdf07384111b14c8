import R2Plus1D

/// The batch scheduler routes one row of floats per clip and knows nothing of their meaning, so the pooled
/// features travel with the logits in the same row, `[logits | features]`, and are split apart on the way out.
extension ClipLogits {
    /// One `[logits | features]` row per clip, concatenated: what the scheduler's forward returns.
    static func rows(_ output: (features: Tensor, logits: Tensor)) -> [Float] {
        let n = output.logits.shape[0], classes = output.logits.shape[1], width = output.features.shape[1]
        var rows = [Float]()
        rows.reserveCapacity(n * (classes + width))
        for i in 0..<n {
            rows += output.logits.data[i * classes..<(i + 1) * classes]
            rows += output.features.data[i * width..<(i + 1) * width]
        }
        return rows
    }

    /// The rows' first `classes` values as logits, the rest as embeddings.
    func splittingEmbeddings(classes: Int) -> ClipLogits {
        var split = self
        split.logits = logits.map { Array($0.prefix(classes)) }
        split.embeddings = logits.map { Array($0.dropFirst(classes)) }
        return split
    }
}
