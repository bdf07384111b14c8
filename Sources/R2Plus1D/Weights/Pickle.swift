import Foundation

/// A value built by the unpickler. Lists and dicts are classes because pickle fills them after memoising them.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    /// A persistent id resolved by the caller: a PyTorch storage.
    case storage(TorchStorage)
    /// A tensor view over a storage, from `torch._utils._rebuild_tensor_v2`.
    case tensor(TorchTensorReference)
}

final class PickleList { var items: [PickleValue] = [] }
final class PickleDict { var items: [(key: PickleValue, value: PickleValue)] = [] }

struct TorchStorage {
    var key: String
    var typeName: String
}

struct TorchTensorReference {
    var storage: TorchStorage
    var offset: Int
    var shape: [Int]
    var strides: [Int]
}

/// A pickle virtual machine for the subset of protocol 2-5 that `torch.save(state_dict)` writes.
///
/// Only these callables are honoured: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
/// `torch._utils._rebuild_tensor` and `torch._utils._rebuild_parameter`; storage classes appear only inside
/// persistent ids. Any other global is refused, so a weight file can never run code.
struct Unpickler {
    private var reader: ByteReader
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private let persistentLoad: (PickleValue) throws -> PickleValue

    static let maxContainerItems = 1 << 22

    init(_ bytes: Data, at position: Int = 0, persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        reader = ByteReader(bytes, at: position)
        self.persistentLoad = persistentLoad
    }

    /// Where the reader stopped: just past the STOP opcode after `load()`.
    var position: Int { reader.position }

    /// Runs to the STOP opcode.
    /// - Throws: `WeightError.truncated` or `.corrupt` (unknown opcode, refused global, malformed stack).
    mutating func load() throws -> PickleValue {
        while true {
            let op = try reader.byte("pickle opcode")
            switch op {
            case 0x80: _ = try reader.byte("PROTO")  // PROTO
            case 0x95: try reader.skip(8, "FRAME")  // FRAME
            case 0x2E: return try pop()  // STOP
            case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x5D: stack.append(.list(PickleList()))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x28: marks.append(stack.count)  // MARK
            case 0x4E: stack.append(.none)  // NONE
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4B: stack.append(.int(Int(try reader.uint(1, "BININT1"))))
            case 0x4D: stack.append(.int(Int(try reader.uint(2, "BININT2"))))
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try reader.uint(4, "BININT")))))
            case 0x8A: stack.append(.int(try long(Int(try reader.uint(1, "LONG1")))))
            case 0x8B: stack.append(.int(try long(Int(try reader.uint(4, "LONG4")))))
            case 0x47: stack.append(.float(Double(bitPattern: (try reader.uint(8, "BINFLOAT")).byteSwapped)))
            case 0x58: stack.append(.string(try text(Int(try reader.uint(4, "BINUNICODE")))))
            case 0x8C: stack.append(.string(try text(Int(try reader.uint(1, "SHORT_BINUNICODE")))))
            case 0x8D: stack.append(.string(try text(try length(try reader.uint(8, "BINUNICODE8")))))
            case 0x55: stack.append(.string(try text(Int(try reader.uint(1, "SHORT_BINSTRING")))))
            case 0x54: stack.append(.string(try text(Int(try reader.uint(4, "BINSTRING")))))
            case 0x43: stack.append(.bytes(try reader.read(Int(try reader.uint(1, "SHORT_BINBYTES")), "bytes")))
            case 0x42: stack.append(.bytes(try reader.read(Int(try reader.uint(4, "BINBYTES")), "bytes")))
            case 0x63:  // GLOBAL
                let module = try reader.line("GLOBAL"), name = try reader.line("GLOBAL")
                stack.append(.global(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw WeightError.corrupt(detail: "STACK_GLOBAL without two strings")
                }
                stack.append(.global(module: module, name: name))
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))  // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x6C: let l = PickleList(); l.items = try popMark(); stack.append(.list(l))  // LIST
            case 0x64: stack.append(.dict(try pairs(try popMark(), into: PickleDict())))  // DICT
            case 0x61: let v = try pop(); try append([v])  // APPEND
            case 0x65: let items = try popMark(); try append(items)  // APPENDS
            case 0x73: let v = try pop(), k = try pop(); try setItems([k, v])  // SETITEM
            case 0x75: let items = try popMark(); try setItems(items)  // SETITEMS (pop before reading the dict below)
            case 0x71: memo[Int(try reader.uint(1, "BINPUT"))] = try top()  // BINPUT
            case 0x72: memo[Int(try reader.uint(4, "LONG_BINPUT"))] = try top()  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x68: stack.append(try recall(Int(try reader.uint(1, "BINGET"))))  // BINGET
            case 0x6A: stack.append(try recall(Int(try reader.uint(4, "LONG_BINGET"))))  // LONG_BINGET
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: stack.append(try top())  // DUP
            case 0x51: stack.append(try persistentLoad(try pop()))  // BINPERSID
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                guard case .tuple(let a) = args else { throw WeightError.corrupt(detail: "REDUCE without an argument tuple") }
                stack.append(try call(callable, a))
            case 0x81:  // NEWOBJ
                let args = try pop(), cls = try pop()
                guard case .tuple(let a) = args else { throw WeightError.corrupt(detail: "NEWOBJ without an argument tuple") }
                stack.append(try call(cls, a))
            case 0x62: _ = try pop()  // BUILD: state of an OrderedDict (_metadata) or a tensor; not needed
            default:
                throw WeightError.corrupt(detail: String(format: "pickle opcode 0x%02x is not used by state dicts", op))
            }
        }
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else {
            throw WeightError.corrupt(detail: "pickle stack underflow")
        }
        return v
    }

    private func top() throws -> PickleValue {
        guard let v = stack.last else { throw WeightError.corrupt(detail: "pickle stack underflow") }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw WeightError.corrupt(detail: "pickle MARK missing") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private func recall(_ index: Int) throws -> PickleValue {
        guard let v = memo[index] else { throw WeightError.corrupt(detail: "pickle memo \(index) was never stored") }
        return v
    }

    private func length(_ n: UInt64) throws -> Int {
        guard n <= UInt64(reader.remaining) else { throw WeightError.truncated(detail: "pickle string of \(n) bytes") }
        return Int(n)
    }

    private mutating func text(_ count: Int) throws -> String {
        String(decoding: try reader.read(count, "pickle string"), as: UTF8.self)
    }

    /// A little-endian two's-complement integer of `count` bytes that fits in 64 bits.
    private mutating func long(_ count: Int) throws -> Int {
        guard count <= 8 else { throw WeightError.corrupt(detail: "pickle integer of \(count) bytes") }
        if count == 0 { return 0 }
        let raw = try reader.uint(count, "pickle integer")
        let shift = UInt64(64 - 8 * count)
        return Int(Int64(bitPattern: raw << shift) >> Int64(shift))
    }

    private func append(_ values: [PickleValue]) throws {
        guard case .list(let list) = try top() else { throw WeightError.corrupt(detail: "APPEND to a non-list") }
        guard list.items.count + values.count <= Self.maxContainerItems else { throw WeightError.corrupt(detail: "list too long") }
        list.items += values
    }

    private func setItems(_ flat: [PickleValue]) throws {
        guard case .dict(let dict) = try top() else { throw WeightError.corrupt(detail: "SETITEM on a non-dict") }
        _ = try pairs(flat, into: dict)
    }

    private func pairs(_ flat: [PickleValue], into dict: PickleDict) throws -> PickleDict {
        guard flat.count % 2 == 0 else { throw WeightError.corrupt(detail: "odd number of dict items") }
        guard dict.items.count + flat.count / 2 <= Self.maxContainerItems else { throw WeightError.corrupt(detail: "dict too long") }
        for i in stride(from: 0, to: flat.count, by: 2) { dict.items.append((flat[i], flat[i + 1])) }
        return dict
    }

    private func call(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case .global(let module, let name) = callable else {
            throw WeightError.corrupt(detail: "pickle calls something that is not a global")
        }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            return .dict(PickleDict())
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard args.count >= 4, case .storage(let storage) = args[0], case .int(let offset) = args[1],
                  case .tuple(let size) = args[2], case .tuple(let stride) = args[3] else {
                throw WeightError.corrupt(detail: "malformed _rebuild_tensor arguments")
            }
            let shape = try size.map(Self.integer), strides = try stride.map(Self.integer)
            guard shape.count == strides.count else { throw WeightError.corrupt(detail: "tensor size and stride differ in rank") }
            return .tensor(TorchTensorReference(storage: storage, offset: offset, shape: shape, strides: strides))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = args.first else { throw WeightError.corrupt(detail: "malformed _rebuild_parameter") }
            return data
        default:
            throw WeightError.corrupt(detail: "the pickle calls \(module).\(name), which a state dict never needs; refused")
        }
    }

    private static func integer(_ v: PickleValue) throws -> Int {
        guard case .int(let i) = v else { throw WeightError.corrupt(detail: "expected an integer in a tensor's size or stride") }
        return i
    }
}
