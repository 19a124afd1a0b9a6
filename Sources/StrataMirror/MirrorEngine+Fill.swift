import Foundation
import NIOCore
import StrataCore
import StrataStore
import StrataUpstream

/// The leader of a blob fill: one temp file, the tiers in order (a body that breaks
/// part-way is asked of the same tier again from the byte reached, with a fresh
/// redirect, a few times; then of the next tier with `Range`), and a commit only of a
/// verified blob.
extension MirrorEngine {
    /// How many times a tier whose body broke after delivering bytes is asked again.
    static let sameTierRetries = 2

    func runFill(_ fill: BlobFill, repository: RepositoryName, chain: TierChain, via: String?, negativeKey: String) async {
        let digest = fill.digest
        defer { fills.remove(digest, fill) }
        let writer: any ContentSink
        do {
            writer = try local.makeSink(for: digest)
        } catch {
            logger.error("cannot start a blob fill", metadata: ["digest": "\(digest)", "error": "\(error)"])
            fill.failed(FillError(.storage, "the cache cannot store blobs now (the server log says why)"), attempts: [])
            return
        }
        var attempts: [TierAttempt] = []
        var total: Int64? = nil
        for tier in chain.tiers {
            var retries = 0
            while true {
                let reached = writer.written
                let (result, attempt) = await tier.run { tier throws(UpstreamError) in
                    try await self.fetch(from: tier, into: writer, for: fill, repository: repository, via: via, total: &total)
                }
                attempts.append(attempt)
                switch result {
                case .success:
                    if fill.isPassThrough {
                        await finishPassThrough(fill, writer: writer, total: total, attempts: attempts, tier: tier)
                    } else {
                        await commit(fill, writer: writer, total: total, attempts: attempts, tier: tier)
                    }
                    return
                case .failure(let error) where error.kind == .local:
                    writer.discard()
                    fill.failed(FillError(.storage, error.message), attempts: attempts)
                    return
                case .failure(let error):
                    logger.debug("blob fill attempt failed", metadata: ["digest": "\(digest)", "tier": "\(tier.name)", "error": "\(error)"])
                    // The connection broke after bytes came: the tier works, the path to it hiccupped.
                    if error.kind == .transport, writer.written > reached, retries < Self.sameTierRetries {
                        retries += 1
                        continue
                    }
                }
                break
            }
        }
        writer.discard()
        let exhausted = TierChain.Exhausted(attempts: attempts)
        if exhausted.allNotFound { negative.insert(negativeKey) }
        let kind: FillError.Kind = exhausted.allNotFound ? .notFound : exhausted.refused ? .refused : .unavailable
        fill.failed(FillError(kind, "no tier could deliver it (\(exhausted))"), attempts: attempts)
    }

    /// One request to one tier, from the byte the writer reached to the end. `total`
    /// is the size the first tier announced; a tier that announces another fails.
    private func fetch(
        from tier: UpstreamTier, into writer: any ContentSink, for fill: BlobFill, repository: RepositoryName, via: String?,
        total: inout Int64?
    ) async throws(UpstreamError) {
        let digest = fill.digest
        var upstream = try await tier.client.getBlob(repository, digest, from: writer.written, via: via)
        if let size = upstream.totalSize {
            if let known = total, known != size {
                throw UpstreamError(.invalidResponse, "size \(size) differs from \(known)")
            }
            total = size
        }
        if writer.written == 0 {
            if let total { notify(.fillStarting(bytes: total)) }
            fill.responseStarted(total: total, sink: writer, tier: tier.name, path: [tier.name.description] + upstream.remotePath)
        }
        // A large blob from a tier that serves ranges: several ranged GETs at once.
        let ranged = configuration.rangedFill
        if let total, upstream.acceptsRanges, ranged.connections > 1, total - writer.written >= ranged.threshold, !fill.isPassThrough {
            let parts = RangedFill(tier: tier, repository: repository, digest: digest, via: via, writer: writer, fill: fill, total: total,
                                   connections: ranged.connections, fastEnough: ranged.fastEnough, eventLoop: upstream.body.eventLoop)
            switch try await parts.run(first: upstream) {
            case .complete: return
            case .diskFull:
                // The rest in order from the front: the sink passes it through.
                upstream = try await tier.client.getBlob(repository, digest, from: writer.written, via: via)
            }
        }
        do {
            try await upstream.body.stream(into: sink(for: fill, writer: writer, on: upstream.body.eventLoop))
        } catch let error as UpstreamError {
            throw error
        } catch let error as StoreError {
            // Local, not the tier's fault: report it apart.
            throw UpstreamError(.local, "store: \(error)")
        } catch {
            throw UpstreamError(.transport, "body ended after \(writer.written) bytes: \(error)")
        }
        if let total, writer.written < total {
            throw UpstreamError(.transport, "body ended after \(writer.written) of \(total) bytes")
        }
    }

    /// What each body part goes through, on the event loop that received it: write,
    /// hash, wake readers; on a full disk, hash only and pass it on through memory.
    private func sink(for fill: BlobFill, writer: any ContentSink, on eventLoop: any EventLoop) -> StreamedReply.Sink {
        let logger = self.logger, digest = fill.digest
        return { chunk throws -> EventLoopFuture<Void>? in
            if !fill.isPassThrough {
                do {
                    try writer.append(chunk)
                    fill.bytesWritten(writer.written)
                    return writer.hashRoom(on: eventLoop)
                } catch let error as StoreError where error.isDiskFull {
                    logger.warning("not cached: disk full; passing the blob through", metadata: ["digest": "\(digest)"])
                    fill.diskFull()
                }
            }
            writer.appendHashOnly(chunk)
            // The next part waits for room in the memory window, off the event loop.
            let room = eventLoop.makePromise(of: Void.self)
            let written = writer.written
            room.completeWithTask {
                guard await fill.passThrough(chunk, written: written) else {
                    throw UpstreamError(.local, "not cached: disk full, and no client is left")
                }
            }
            return room.futureResult
        }
    }

    /// A pass-through (the disk filled up) that received every byte: verified, not stored.
    private func finishPassThrough(_ fill: BlobFill, writer: any ContentSink, total: Int64?, attempts: [TierAttempt], tier: UpstreamTier) async {
        let digest = fill.digest
        defer { writer.discard() }
        do {
            try await writer.verify(expected: digest, expectedSize: total)
            fill.passedThrough(attempts: attempts, reason: "not cached: disk full")
            logger.warning("blob served but not cached: disk full", metadata: ["digest": "\(digest)", "tier": "\(tier.name)"])
        } catch {
            logger.error("blob failed verification; not stored", metadata: ["digest": "\(digest)", "error": "\(error)"])
            // Told before the clients learn of it: the next request must not take the same bytes.
            await tier.deliveredBadBytes(digest, "\(error)")
            fill.failed(FillError(.verification, "\(error)"), attempts: attempts)
        }
    }

    /// Verifies and installs the blob, releases its last byte to the clients, then
    /// syncs it behind them.
    private func commit(_ fill: BlobFill, writer: any ContentSink, total: Int64?, attempts: [TierAttempt], tier upstream: UpstreamTier) async {
        let digest = fill.digest, tier = upstream.name
        let stored: StoredBlob
        do {
            // Verified and visible, not yet synced: the clients need not wait for the disk.
            stored = try await local.commit(writer, digest: digest, expectedSize: total)
        } catch let error as StoreError where error.isVerificationFailure {
            logger.error("blob failed verification; not stored", metadata: ["digest": "\(digest)", "tier": "\(tier)", "error": "\(error)"])
            // The next fill must not take the same bytes from the same place: told before
            // the clients learn of the failure, so that their retry goes elsewhere.
            await upstream.deliveredBadBytes(digest, "\(error)")
            fill.failed(FillError(.verification, "\(error)"), attempts: attempts)
            return
        } catch let error as StoreError where error.isDiskFull {
            // Verified, all in the temp file, but it cannot be installed: the clients
            // still get every byte from the temp file.
            logger.warning("blob served but not cached: disk full", metadata: ["digest": "\(digest)", "tier": "\(tier)"])
            fill.passedThrough(attempts: attempts, reason: "not cached: disk full")
            return
        } catch {
            logger.error("blob could not be stored", metadata: ["digest": "\(digest)", "error": "\(error)"])
            fill.failed(FillError(.storage, "\(error)"), attempts: attempts)
            return
        }
        // Tell the cache bound before the last byte is released, so an eviction this
        // blob causes is under way before any client sees the blob complete.
        notify(.stored(stored))
        fill.committed(stored, attempts: attempts)
        logger.info("blob cached", metadata: ["digest": "\(digest)", "size": "\(stored.size)", "stored": "\(stored.storedSize)",
                                              "compressed": "\(stored.compressed)", "tier": "\(tier)"])
        do {
            try await local.makeDurable(digest)
        } catch {
            // Left provisional: the next start-up verifies it before trusting it.
            logger.error("cannot sync blob", metadata: ["digest": "\(digest)", "error": "\(error)"])
        }
    }
}
