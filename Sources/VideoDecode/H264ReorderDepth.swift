/// What an H.264 stream's sequence parameter set (ITU-T H.264 7.3.2.1.1, with its VUI, E.1.1) says of frame
/// reordering: `max_num_reorder_frames`, when the VUI states it (`bitstream_restriction_flag`). FFmpeg's decoder
/// takes the reorder delay from there at the first slice; without it, probing guesses the delay from decoded frames.
enum H264ReorderDepth {
    /// The reorder depth and the cropped picture size an SPS states.
    struct Stated: Equatable {
        var depth: Int
        var width: Int
        var height: Int
    }

    /// What the one SPS of an avcC record (ISO/IEC 14496-15 5.3.3.1), as MP4 and Matroska store the sequence header,
    /// states; nil when it states no depth, holds several SPS, or has a field FFmpeg's decoder would refuse or read
    /// otherwise (profiles 134, 135, 139 and 144, which the standard and FFmpeg 5.1 treat differently).
    static func stated(avcC record: [UInt8]) -> Stated? {
        guard record.count >= 8, record[0] == 1, record[5] & 0x1F == 1 else { return nil }
        let length = Int(record[6]) << 8 | Int(record[7])
        guard length >= 2, record.count >= 8 + length, record[8] & 0x1F == 7 else { return nil }
        var reader = BitReader(rbsp: record[9..<8 + length])
        return try? reader.sequenceParameterSet()
    }
}

/// Reads an RBSP bit by bit, emulation prevention bytes (00 00 03) removed.
private struct BitReader {
    struct End: Error {}

    private let bytes: [UInt8]
    private var position = 0

    init(rbsp nal: ArraySlice<UInt8>) {
        var bytes: [UInt8] = []
        var zeros = 0
        for byte in nal {
            if zeros >= 2, byte == 3 {
                zeros = 0
                continue
            }
            zeros = byte == 0 ? zeros + 1 : 0
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    mutating func bits(_ count: Int) throws -> Int {
        var value = 0
        for _ in 0..<count {
            guard position < bytes.count * 8 else { throw End() }
            value = value << 1 | Int(bytes[position / 8] >> (7 - position % 8) & 1)
            position += 1
        }
        return value
    }

    mutating func flag() throws -> Bool { try bits(1) == 1 }

    /// ue(v): an Exp-Golomb code, at most 31 leading zeros.
    mutating func ue() throws -> Int {
        var zeros = 0
        while try bits(1) == 0 {
            zeros += 1
            guard zeros < 32 else { throw End() }
        }
        return (1 << zeros) - 1 + (try bits(zeros))
    }

    mutating func se() throws { _ = try ue() }

    /// seq_parameter_set_data() up to the VUI's max_dec_frame_buffering; nil when the VUI states no depth, or a
    /// field is out of the range FFmpeg's decoder accepts.
    mutating func sequenceParameterSet() throws -> H264ReorderDepth.Stated? {
        let profile = try bits(8)
        _ = try bits(16)  // constraint flags, level_idc
        guard try ue() < 32 else { return nil }  // seq_parameter_set_id
        var chromaFormat = 1, separatePlanes = false
        if [134, 135, 139, 144].contains(profile) { return nil }
        if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138].contains(profile) {
            chromaFormat = try ue()
            guard chromaFormat <= 3 else { return nil }
            if chromaFormat == 3 { separatePlanes = try flag() }
            guard try ue() <= 6, try ue() <= 6 else { return nil }  // bit_depth_luma_minus8, bit_depth_chroma_minus8
            _ = try flag()  // qpprime_y_zero_transform_bypass_flag
            if try flag() {  // seq_scaling_matrix_present_flag
                for list in 0..<(chromaFormat == 3 ? 12 : 8) where try flag() {
                    try skipScalingList(size: list < 6 ? 16 : 64)
                }
            }
        }
        guard try ue() <= 12 else { return nil }  // log2_max_frame_num_minus4
        switch try ue() {  // pic_order_cnt_type
        case 0: guard try ue() <= 12 else { return nil }  // log2_max_pic_order_cnt_lsb_minus4
        case 1:
            _ = try flag()  // delta_pic_order_always_zero_flag
            try se()  // offset_for_non_ref_pic
            try se()  // offset_for_top_to_bottom_field
            let cycle = try ue()  // num_ref_frames_in_pic_order_cnt_cycle
            guard cycle < 256 else { return nil }
            for _ in 0..<cycle { try se() }  // offset_for_ref_frame
        case 2: break
        default: return nil
        }
        _ = try ue()  // max_num_ref_frames
        _ = try flag()  // gaps_in_frame_num_value_allowed_flag
        let widthInMacroblocks = try ue() + 1, heightInMapUnits = try ue() + 1
        let frameMacroblocksOnly = try flag()
        if !frameMacroblocksOnly { _ = try flag() }  // mb_adaptive_frame_field_flag
        _ = try flag()  // direct_8x8_inference_flag
        var crop = (left: 0, right: 0, top: 0, bottom: 0)
        if try flag() { crop = (try ue(), try ue(), try ue(), try ue()) }  // frame_cropping_flag and its offsets
        // Cropping counts chroma samples (6-22, 6-23), in both fields for field pictures.
        let subsampled = separatePlanes ? 0 : chromaFormat
        let unitX = subsampled == 1 || subsampled == 2 ? 2 : 1
        let unitY = (subsampled == 1 ? 2 : 1) * (frameMacroblocksOnly ? 1 : 2)
        guard widthInMacroblocks <= 1 << 16, heightInMapUnits <= 1 << 16, crop.left + crop.right < 1 << 20,
              crop.top + crop.bottom < 1 << 20 else { return nil }
        let width = 16 * widthInMacroblocks - unitX * (crop.left + crop.right)
        let height = 16 * heightInMapUnits * (frameMacroblocksOnly ? 1 : 2) - unitY * (crop.top + crop.bottom)
        guard try flag() else { return nil }  // vui_parameters_present_flag
        if try flag(), try bits(8) == 255 { _ = try bits(32) }  // aspect_ratio_idc, Extended_SAR's two u(16)
        if try flag() { _ = try flag() }  // overscan_info_present_flag, overscan_appropriate_flag
        if try flag() {  // video_signal_type_present_flag
            _ = try bits(4)  // video_format, video_full_range_flag
            if try flag() { _ = try bits(24) }  // colour_description_present_flag and its three u(8)
        }
        if try flag() { _ = try ue(); _ = try ue() }  // chroma_loc_info_present_flag and the two locations
        if try flag() { _ = try bits(32); _ = try bits(33) }  // timing_info_present_flag: two u(32), fixed_frame_rate_flag
        let nalHRD = try flag()
        if nalHRD { try skipHRD() }
        let vclHRD = try flag()
        if vclHRD { try skipHRD() }
        if nalHRD || vclHRD { _ = try flag() }  // low_delay_hrd_flag
        _ = try flag()  // pic_struct_present_flag
        guard try flag() else { return nil }  // bitstream_restriction_flag
        _ = try flag()  // motion_vectors_over_pic_boundaries_flag
        for _ in 0..<4 { _ = try ue() }  // max_bytes_per_pic_denom ... log2_max_mv_length_vertical
        let depth = try ue(), buffering = try ue()  // max_num_reorder_frames, max_dec_frame_buffering
        // FFmpeg refuses a depth over 16 (its most delayed pictures), and a stream holds no more back than it buffers.
        guard depth <= buffering, buffering <= 16, width > 0, height > 0 else { return nil }
        return H264ReorderDepth.Stated(depth: depth, width: width, height: height)
    }

    private mutating func skipScalingList(size: Int) throws {
        var last = 8, next = 8
        for _ in 0..<size {
            if next != 0 {
                let code = try ue()
                let delta = code % 2 == 1 ? (code + 1) / 2 : -(code / 2)
                next = (last + delta + 256) % 256
            }
            last = next == 0 ? last : next
        }
    }

    /// hrd_parameters() (E.1.2).
    private mutating func skipHRD() throws {
        let count = try ue() + 1  // cpb_cnt_minus1
        guard count <= 32 else { throw End() }
        _ = try bits(8)  // bit_rate_scale, cpb_size_scale
        for _ in 0..<count {
            _ = try ue()  // bit_rate_value_minus1
            _ = try ue()  // cpb_size_value_minus1
            _ = try flag()  // cbr_flag
        }
        _ = try bits(20)  // four lengths of u(5)
    }
}
