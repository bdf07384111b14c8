import Cores
import Glibc
import Testing

@Suite struct OpenFileLimitTests {
    /// In a child process: the limit is the process's.
    @Test func theSoftLimitIsRaisedToTheHardOne() async {
        await #expect(processExitsWith: .success) {
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            let hard = limit.rlim_max
            limit.rlim_cur = min(hard, 64)
            #expect(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
            let raised = OpenFileLimit.raise()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            #expect(limit.rlim_max == hard)
            if hard == rlim_t.max {
                #expect(limit.rlim_cur > 64 && raised == Int(limit.rlim_cur))
            } else {
                #expect(limit.rlim_cur == hard && raised == Int(hard))
            }
        }
    }
}
