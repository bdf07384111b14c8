/// Who waits for a forward pass: a client holding a request open, or a background job nobody watches live.
/// The batch queue runs interactive clips first and keeps background batches small, so a long job adds at
/// most one small forward pass to a request's wait, while a share of the passes keeps the job moving.
public enum RequestClass: String, Sendable, CaseIterable {
    case interactive, background
}
