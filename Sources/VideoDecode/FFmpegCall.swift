import CFFmpeg

/// FFmpeg's description of an error code.
func ffmpegErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 128)
    av_strerror(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Every FFmpeg return code goes through here: negative codes throw `error(message)`, or
/// `DecodeError.needsTooMuchMemory` when FFmpeg could not allocate.
@discardableResult
func check(_ code: Int32, _ error: (String) -> DecodeError) throws -> Int32 {
    try checkMemory(code)
    guard code >= 0 else { throw error(ffmpegErrorString(code)) }
    return code
}

/// Throws `DecodeError.needsTooMuchMemory` when `code` says FFmpeg could not allocate: in a decode worker, the video
/// needs more than the worker's memory limit, which no later packet will change.
func checkMemory(_ code: Int32) throws {
    if code == averrorNoMemory { throw DecodeError.needsTooMuchMemory }
}

let averrorNoMemory = cffmpeg_averror(ENOMEM)

let averrorEOF = cffmpeg_averror_eof()
let averrorExit = cffmpeg_averror_exit()
let noTimestamp = cffmpeg_nopts_value()
