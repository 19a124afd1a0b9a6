import CCrypto

/// Incremental SHA-256 / SHA-512 through OpenSSL's libcrypto (`EVP_Digest*`).
///
/// Not thread-safe: one owner feeds it, in order.
public final class ContentHasher {
    private let context: OpaquePointer
    public let algorithm: Digest.Algorithm

    public init(_ algorithm: Digest.Algorithm = .sha256) {
        self.algorithm = algorithm
        // EVP_MD_CTX_new only fails when allocation fails.
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        self.context = ctx
        EVP_DigestInit_ex(ctx, algorithm == .sha256 ? EVP_sha256() : EVP_sha512(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    /// Finishes the hash. The hasher must not be used afterwards.
    public func finalize() -> Digest {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        let hexDigits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(Int(length) * 2)
        for byte in out.prefix(Int(length)) {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0f)])
        }
        // The output is lowercase hex of the right length by construction.
        return try! Digest(algorithm: algorithm, hex: String(decoding: hex, as: UTF8.self))
    }

    /// Hashes a whole buffer at once.
    public static func digest<S: Sequence>(of bytes: S, algorithm: Digest.Algorithm = .sha256) -> Digest where S.Element == UInt8 {
        let hasher = ContentHasher(algorithm)
        hasher.update(bytes)
        return hasher.finalize()
    }
}
