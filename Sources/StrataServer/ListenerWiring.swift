import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL
import StrataRegistryAPI

/// The two ports as the configuration asks for them: addresses, the admin token, TLS,
/// logins, and the server builders with the connection guard.
struct ListenerWiring {
    let registryAddress: (host: String, port: Int)
    /// nil: `admin_listen: off`.
    let adminAddress: (host: String, port: Int)?
    let adminToken: String?
    let adminServer: HTTPServerBuilder
    /// The admin port serves HTTPS (its session cookies are `Secure`).
    var adminIsTLS: Bool { tls != nil }
    /// Plain-text registry connections send raw cache hits with sendfile; TLS cannot.
    let fileRegions: Bool
    let authenticator: ClientAuthenticator?
    private let limits: ConnectionLimits
    private let counter: ConnectionCounter
    /// nil: plain HTTP.
    private let tls: TLSConfiguration?

    init(configuration: StrataConfiguration, counter: ConnectionCounter, now: @escaping @Sendable () -> Date) throws(StrataServer.StartupError) {
        guard let address = ConfigValues.address(configuration.listen) else {
            throw .init(description: "invalid listen address \(configuration.listen)")
        }
        registryAddress = address
        (adminAddress, adminToken) = try Self.admin(configuration)
        limits = ConnectionLimits(
            headerTimeout: .milliseconds(Int64(configuration.limits.headerTimeout * 1000)),
            idleTimeout: .milliseconds(Int64(configuration.limits.idleTimeout * 1000)),
            maxConnections: configuration.limits.maxConnections)
        self.counter = counter
        if let certificate = configuration.tlsCertificate, let key = configuration.tlsKey {
            for (name, path) in [("tls.cert", certificate), ("tls.key", key)] where !FileManager.default.isReadableFile(atPath: path) {
                let why = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
                throw .init(description: "cannot read \(name) \(path): \(why)")
            }
            let chain: [NIOSSLCertificateSource]
            let privateKey: NIOSSLPrivateKey
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            } catch {
                throw .init(description: "tls.cert \(certificate) is not a PEM certificate")
            }
            do {
                privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            } catch {
                throw .init(description: "tls.key \(key) is not a PEM private key (an encrypted key is not supported)")
            }
            guard !chain.isEmpty else { throw .init(description: "tls.cert \(certificate) holds no certificate") }
            do {
                let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(privateKey))
                adminServer = try .tls(.http1(), tlsConfiguration: tls)
                self.tls = tls
                fileRegions = false
            } catch {
                throw .init(description: "cannot use tls.cert \(certificate) and tls.key \(key): \(error)")
            }
        } else {
            tls = nil
            adminServer = .http1()
            fileRegions = true
        }
        if let htpasswd = configuration.htpasswd {
            do {
                authenticator = try ClientAuthenticator(htpasswdPath: htpasswd, now: now)
            } catch {
                throw .init(description: error.description)
            }
        } else {
            authenticator = nil
        }
    }

    /// The registry port's server: the connection guard, then hits held in memory
    /// answered on the event loop by `responder`, then its routes.
    func registryServer(_ responder: RegistryResponder) throws(StrataServer.StartupError) -> HTTPServerBuilder {
        let (limits, counter) = (self.limits, self.counter)
        guard let tls else { return ZeroCopyHTTP1Channel.builder(limits: limits, counter: counter, memoryHits: responder) }
        do {
            return try .tls(.http1(configuration: .init(additionalChannelHandlers: [
                ConnectionGuard.make(limits: limits, counter: counter), responder.memoryHitHandler(),
            ])), tlsConfiguration: tls)
        } catch {
            throw .init(description: "cannot use tls.cert and tls.key: \(error)")
        }
    }

    /// The admin port's address and token; off loopback it needs a token.
    private static func admin(_ configuration: StrataConfiguration) throws(StrataServer.StartupError) -> ((host: String, port: Int)?, String?) {
        guard let adminListen = configuration.adminListen else { return (nil, nil) }
        guard let parsed = ConfigValues.address(adminListen) else {
            throw .init(description: "invalid admin_listen address \(adminListen)")
        }
        guard let file = configuration.adminTokenFile else {
            guard ["127.0.0.1", "::1", "localhost"].contains(parsed.host) else {
                throw .init(description: "admin_listen \(adminListen) is not loopback: set admin.token_file to protect it")
            }
            return (parsed, nil)
        }
        guard let data = FileManager.default.contents(atPath: file),
              let token = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
            throw .init(description: "cannot read a token from admin.token_file \(file)")
        }
        return (parsed, token)
    }
}
