import Foundation
import StrataCore

/// Writes a ustar archive: regular files and directories, names up to 255 bytes.
final class TarWriter {
    private let handle: FileHandle
    private(set) var bytesWritten: Int64 = 0

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw StoreError.io("create", path, errno: errno)
        }
        self.handle = handle
    }

    /// Starts a file entry of `size` bytes; its content follows through ``write(_:)``,
    /// then ``finishEntry(size:)`` pads it.
    func beginFile(_ name: String, size: Int64, mode: Int = 0o644) throws {
        try write(Self.header(name: name, size: size, type: UInt8(ascii: "0"), mode: mode))
    }

    func directory(_ name: String) throws {
        try write(Self.header(name: name.hasSuffix("/") ? name : name + "/", size: 0, type: UInt8(ascii: "5"), mode: 0o755))
    }

    func file(_ name: String, bytes: [UInt8]) throws {
        try beginFile(name, size: Int64(bytes.count))
        try write(bytes)
        try finishEntry(size: Int64(bytes.count))
    }

    func write(_ bytes: some Collection<UInt8>) throws {
        try handle.write(contentsOf: Data(bytes))
        bytesWritten += Int64(bytes.count)
    }

    func finishEntry(size: Int64) throws {
        let pad = Int((512 - size % 512) % 512)
        if pad > 0 { try write([UInt8](repeating: 0, count: pad)) }
    }

    /// Writes the two zero blocks that end an archive, and closes it.
    func close() throws {
        try write([UInt8](repeating: 0, count: 1024))
        try handle.synchronize()
        try handle.close()
    }

    static func header(name: String, size: Int64, type: UInt8, mode: Int) throws -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        var nameBytes = Array(name.utf8)
        var prefix: [UInt8] = []
        if nameBytes.count > 100 {
            // ustar: split at a '/' into prefix (155) and name (100).
            guard let split = nameBytes.indices.last(where: { nameBytes[$0] == UInt8(ascii: "/") && $0 <= 155 && nameBytes.count - $0 - 1 <= 100 }) else {
                throw StoreError.corrupt("name too long for a tar entry: \(name)")
            }
            prefix = Array(nameBytes[..<split])
            nameBytes = Array(nameBytes[(split + 1)...])
        }
        func put(_ bytes: [UInt8], _ offset: Int) { for (i, b) in bytes.enumerated() { header[offset + i] = b } }
        func octal(_ value: Int64, _ width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(nameBytes, 0)
        put(octal(Int64(mode), 8), 100)
        put(octal(0, 8), 108)
        put(octal(0, 8), 116)
        put(octal(size, 12), 124)
        put(octal(0, 12), 136)
        put(Array("        ".utf8), 148)
        header[156] = type
        put(Array("ustar".utf8) + [0], 257)
        put(Array("00".utf8), 263)
        put(prefix, 345)
        let checksum = header.reduce(0) { $0 + Int64($1) }
        put(Array((String(repeating: "0", count: max(0, 6 - String(checksum, radix: 8).count)) + String(checksum, radix: 8)).utf8) + [0, 0x20], 148)
        return header
    }
}

/// Reads a ustar (or plain POSIX) archive entry by entry, streaming file contents.
final class TarReader {
    struct Entry {
        let name: String
        let size: Int64
        let isFile: Bool
    }

    private let handle: FileHandle
    private var remaining: Int64 = 0
    private var padding: Int64 = 0

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw StoreError.io("open", path, errno: errno) }
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// The next entry, or nil at the end of the archive. Unread content of the previous
    /// entry is skipped.
    func next() throws -> Entry? {
        try skip(remaining + padding)
        remaining = 0
        padding = 0
        guard let block = try handle.read(upToCount: 512), block.count == 512 else { return nil }
        let parsed: TarHeader?
        do {
            parsed = try TarHeader(block: Array(block))
        } catch {
            throw StoreError.corrupt(error.description)
        }
        guard let header = parsed else { return nil }
        remaining = header.size
        padding = (512 - header.size % 512) % 512
        return Entry(name: header.name, size: header.size, isFile: header.isFile)
    }

    /// Reads up to `count` bytes of the current entry's content; empty at its end.
    func read(upTo count: Int) throws -> Data {
        guard remaining > 0 else { return Data() }
        let data = try handle.read(upToCount: Int(min(Int64(count), remaining))) ?? Data()
        guard !data.isEmpty else { throw StoreError.corrupt("tar archive ends inside an entry") }
        remaining -= Int64(data.count)
        return data
    }

    private func skip(_ count: Int64) throws {
        var left = count
        while left > 0 {
            let data = try handle.read(upToCount: Int(min(left, 1 << 20))) ?? Data()
            guard !data.isEmpty else { throw StoreError.corrupt("tar archive ends inside an entry") }
            left -= Int64(data.count)
        }
    }
}
