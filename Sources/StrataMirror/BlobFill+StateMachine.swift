import StrataCore
import StrataStore

extension BlobFill {
    /// The life of one blob fill, without I/O.
    ///
    /// `connecting` → `streaming` (bytes arrive) → `committed` or `failed`. Readers ask
    /// how far they may read; the answer holds back the blob's last byte until the
    /// digest is verified, so a client never receives a complete body of bad bytes.
    struct StateMachine {
        enum State {
            case connecting
            case streaming(written: Int64, total: Int64?)
            /// The disk filled up: bytes `0..<fileBytes` are in the temp file, the rest
            /// goes to the clients through memory and is not stored.
            case passThrough(fileBytes: Int64, written: Int64, total: Int64?)
            case committed(StoredBlob)
            /// A pass-through that ended with the digest verified: the clients may have
            /// every byte, nothing was stored.
            case passedThrough(fileBytes: Int64, size: Int64)
            case failed(FillError)
        }

        private(set) var state: State = .connecting

        /// What a reader at `offset` should do.
        enum ReadAction: Equatable {
            /// Bytes `offset..<limit` may be read now, from the temp file.
            case read(limit: Int64)
            /// Bytes `offset..<limit` may be read now, from memory (pass-through).
            case readMemory(limit: Int64)
            /// Nothing new yet: wait for the next event.
            case wait
            /// The blob is complete and verified, and the reader has everything.
            case finished
            case fail(FillError)
        }

        /// `end` is where the reader's range stops (nil: the end of the blob). Until the
        /// digest is verified, the last byte a reader wants is held back, so neither a
        /// whole body nor a range of bad bytes is ever completed.
        func readAction(at offset: Int64, end: Int64? = nil) -> ReadAction {
            switch state {
            case .connecting:
                return .wait
            case .streaming(let written, let total):
                // Hold back the last byte until verification: with a known total that is
                // only the final byte; without one, the newest byte.
                let limit = Self.unverifiedLimit(written: written, total: total, end: end)
                return limit > offset ? .read(limit: limit) : .wait
            case .passThrough(let fileBytes, let written, let total):
                if offset < fileBytes { return .read(limit: min(fileBytes, Self.unverifiedLimit(written: written, total: total, end: end))) }
                let limit = Self.unverifiedLimit(written: written, total: total, end: end)
                return limit > offset ? .readMemory(limit: limit) : .wait
            case .committed(let blob):
                return offset < blob.size ? .read(limit: blob.size) : .finished
            case .passedThrough(let fileBytes, let size):
                if offset < fileBytes { return .read(limit: fileBytes) }
                return offset < size ? .readMemory(limit: size) : .finished
            case .failed(let error):
                return .fail(error)
            }
        }

        /// How far a reader whose range ends at `end` may read before verification.
        static func unverifiedLimit(written: Int64, total: Int64?, end: Int64?) -> Int64 {
            var limit = total.map { min(written, $0 - 1) } ?? (written - 1)
            if let end { limit = min(limit, end - 1) }
            return limit
        }

        /// What a client about to get a response needs: the size, once upstream said.
        enum StartAction: Equatable {
            case wait
            case started(total: Int64?)
            case fail(FillError)
        }

        func startAction() -> StartAction {
            switch state {
            case .connecting: .wait
            case .streaming(_, let total), .passThrough(_, _, let total): .started(total: total)
            case .committed(let blob): .started(total: blob.size)
            case .passedThrough(_, let size): .started(total: size)
            case .failed(let error): .fail(error)
            }
        }

        /// Upstream answered with a body of `total` bytes (nil when it did not say).
        /// Returns false when the event is out of order.
        mutating func responseStarted(total: Int64?) -> Bool {
            guard case .connecting = state else { return false }
            state = .streaming(written: 0, total: total)
            return true
        }

        mutating func bytesWritten(_ written: Int64) {
            switch state {
            case .streaming(_, let total): state = .streaming(written: written, total: total)
            case .passThrough(let fileBytes, _, let total): state = .passThrough(fileBytes: fileBytes, written: written, total: total)
            default: break
            }
        }

        /// The disk is full: what is in the temp file stays readable, the rest passes through memory.
        mutating func diskFull() {
            guard case .streaming(let written, let total) = state else { return }
            state = .passThrough(fileBytes: written, written: written, total: total)
        }

        var isPassThrough: Bool {
            if case .passThrough = state { return true }
            return false
        }

        mutating func committed(_ blob: StoredBlob) {
            switch state {
            case .connecting, .streaming, .passThrough: state = .committed(blob)
            case .committed, .passedThrough, .failed: break
            }
        }

        /// Every byte arrived and matched the digest, but nothing could be stored.
        mutating func passedThrough() {
            switch state {
            case .passThrough(let fileBytes, let written, _): state = .passedThrough(fileBytes: fileBytes, size: written)
            case .streaming(let written, _): state = .passedThrough(fileBytes: written, size: written)
            default: break
            }
        }

        mutating func failed(_ error: FillError) {
            switch state {
            case .connecting, .streaming, .passThrough: state = .failed(error)
            case .committed, .passedThrough, .failed: break
            }
        }

        var isTerminal: Bool {
            switch state {
            case .committed, .passedThrough, .failed: true
            default: false
            }
        }
    }
}

/// Why a fill ended without a committed blob.
public struct FillError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Every tier said the blob does not exist.
        case notFound = "not_found"
        /// Tiers failed, and none delivered the blob.
        case unavailable
        /// Tiers refused our credentials.
        case refused
        /// The bytes did not match the digest or size: nothing was stored.
        case verification
        /// The store could not write or read.
        case storage
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
