import NIOCore

/// The contract between ``RegistryResponder`` and ``FileRegionHandler``.
///
/// The responder registers an open file with the connection's handler and gets a
/// token; the response head carries the token in this marker header. The handler strips
/// the marker and sends the file's bytes with sendfile(2): one region given at
/// registration (a stored blob), or regions the body names as they become readable (a
/// fill in progress), each body part then being an ``Instruction``.
enum FileRegionMarker {
    static let headerName = "x-strata-file-region"
}

/// One body part of a response that follows a fill.
enum FileRegionInstruction: Equatable {
    /// Send bytes `offset..<offset+length` of the registered file.
    case region(offset: Int64, length: Int64)
    /// Send these bytes as they are (a fill passing bytes through memory).
    case bytes(ByteBuffer)

    private static let regionTag: UInt8 = 0x52  // "R"
    private static let bytesTag: UInt8 = 0x44  // "D"

    func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        switch self {
        case .region(let offset, let length):
            var out = allocator.buffer(capacity: 17)
            out.writeInteger(Self.regionTag)
            out.writeInteger(offset)
            out.writeInteger(length)
            return out
        case .bytes(let bytes):
            var out = allocator.buffer(capacity: bytes.readableBytes + 1)
            out.writeInteger(Self.bytesTag)
            out.writeImmutableBuffer(bytes)
            return out
        }
    }

    init?(decoding buffer: ByteBuffer) {
        var buffer = buffer
        switch buffer.readInteger(as: UInt8.self) {
        case Self.regionTag:
            guard let offset = buffer.readInteger(as: Int64.self), let length = buffer.readInteger(as: Int64.self),
                  offset >= 0, length >= 0, buffer.readableBytes == 0 else { return nil }
            self = .region(offset: offset, length: length)
        case Self.bytesTag:
            self = .bytes(buffer)
        default:
            return nil
        }
    }
}
