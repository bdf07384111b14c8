import CFFmpeg

/// FFmpeg's description of an error code.
func ffmpegErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 128)
    av_strerror(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Every FFmpeg return code goes through here: negative codes throw `error(message)`.
@discardableResult
func check(_ code: Int32, _ error: (String) -> DecodeError) throws -> Int32 {
    guard code >= 0 else { throw error(ffmpegErrorString(code)) }
    return code
}

let averrorEOF = cffmpeg_averror_eof()
let averrorExit = cffmpeg_averror_exit()
let noTimestamp = cffmpeg_nopts_value()
