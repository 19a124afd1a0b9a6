import Foundation
import HummingbirdBcrypt
import StrataCore
import StrataTesting
import Testing

extension Integration {
    @Suite struct TLSAndClientAuth {
        /// A test CA and a server certificate for 127.0.0.1, made with openssl.
        static func makeCertificates() throws -> (directory: String, cert: String, key: String) {
            let openssl = which("openssl") ?? "/usr/bin/openssl"
            let dir = makeTempDirectory("tls")
            func run(_ arguments: [String]) throws {
                let (status, output) = try runCommand(openssl, arguments)
                guard status == 0 else { throw TestSupportError("openssl \(arguments.first ?? ""): \(output)") }
            }
            try run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.crt",
                     "-days", "2", "-subj", "/CN=strata-test-ca"])
            try run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr", "-subj", "/CN=127.0.0.1"])
            try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: "\(dir)/ext.cnf", atomically: true, encoding: .utf8)
            try run(["x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.crt", "-CAkey", "\(dir)/ca.key", "-CAcreateserial",
                     "-out", "\(dir)/server.crt", "-days", "2", "-extfile", "\(dir)/ext.cnf"])
            // skopeo reads the CAs of a registry from a directory of *.crt files.
            try FileManager.default.createDirectory(atPath: "\(dir)/trust", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(dir)/ca.crt", toPath: "\(dir)/trust/ca.crt")
            return (dir, "\(dir)/server.crt", "\(dir)/server.key")
        }

        /// Both ports over TLS: a client that trusts the test CA pulls; one that does not, cannot.
        @Test func registryAndAdminPortsServeTLS() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let tls = try Self.makeCertificates()
            let strata = try await StrataInstance.start(canonical: registry.url, configure: { config in
                config.tlsCertificate = tls.cert
                config.tlsKey = tls.key
            })
            defer { Task { await strata.stop() } }
            let skopeo = try #require(Skopeo.executable)
            let out = makeTempDirectory("tls-copy")
            let trusted = try runCommand(skopeo, ["--insecure-policy", "copy", "--src-cert-dir", "\(tls.directory)/trust",
                                                  "docker://\(strata.hostPort)/library/small:1", "dir:\(out)"])
            #expect(trusted.status == 0, "\(trusted.output)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(out)/manifest.json")) == Data(images.small.manifest))

            let untrusted = try runCommand(skopeo, ["--insecure-policy", "copy", "docker://\(strata.hostPort)/library/small:1", "dir:\(out)-2"])
            #expect(untrusted.status != 0)
            #expect(untrusted.output.contains("certificate"))
            let curl = try #require(which("curl"))
            let admin = try runCommand(curl, ["-s", "--cacert", "\(tls.directory)/ca.crt", "\(strata.adminURL.replacingOccurrences(of: "http:", with: "https:"))/healthz"])
            #expect(admin.output == "ok\n")
            // strata status against the https admin port: with the CA it reads; without, it says why not.
            let binary = try #require(Integration.CommandLine.binary)
            let httpsAdmin = strata.adminURL.replacingOccurrences(of: "http:", with: "https:")
            let status = try runCommand(binary, ["status", "--admin", httpsAdmin, "--cacert", "\(tls.directory)/ca.crt"])
            #expect(status.status == 0 && status.output.contains("SERVED BY"), "\(status.output)")
            let distrusting = try runCommand(binary, ["status", "--admin", httpsAdmin])
            #expect(distrusting.status == 1 && distrusting.output.hasPrefix("strata: cannot reach the admin server at \(httpsAdmin)"))
            // Addressed without the scheme, a TLS admin port is met in plain HTTP: the error says to use https://.
            let schemeless = try runCommand(binary, ["status", "--admin", strata.adminURL.replacingOccurrences(of: "http://", with: "")])
            #expect(schemeless.status == 1 && schemeless.output.contains("use https://") && schemeless.output.split(separator: "\n").count == 1,
                    "\(schemeless.output)")
            let plain = try runCommand(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(strata.url)/v2/"])
            #expect(plain.output != "200", "plain HTTP is not served on a TLS port")
        }

        /// htpasswd (bcrypt) logins on the registry port; credentials never reach the
        /// logs, the ledger or the access log.
        /// Finding 13: on an HTTPS admin port the session cookie is `Secure`.
        @Test func theAdminSessionCookieIsSecureOverHTTPS() async throws {
            let tls = try Self.makeCertificates()
            let tokenFile = makeTempDirectory("tls-token") + "/token"
            try "tls-admin-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let strata = try await StrataInstance.start(canonical: "http://127.0.0.1:9", configure: { config in
                config.tlsCertificate = tls.cert
                config.tlsKey = tls.key
                config.adminTokenFile = tokenFile
            })
            defer { Task { await strata.stop() } }
            let curl = try #require(which("curl"))
            let https = strata.adminURL.replacingOccurrences(of: "http:", with: "https:")
            let answer = try runCommand(curl, ["-s", "-i", "--cacert", "\(tls.directory)/ca.crt", "-X", "POST", "-H", "Origin: \(https)",
                                               "-H", "Content-Type: application/x-www-form-urlencoded", "--data", "token=tls-admin-token", "\(https)/login"])
            let cookie = try #require(answer.output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") }, "\(answer.output)")
            #expect(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "\(cookie)")
        }

        @Test func clientsMustLogInAndCredentialsStayPrivate() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let dir = makeTempDirectory("htpasswd")
            let password = "s3cret-\(UUID().uuidString.prefix(8))"
            // htpasswd -B writes $2y$ hashes; Strata takes those and $2b$.
            let hash = "$2y$" + Bcrypt.hash(password, cost: 8).dropFirst(4)
            try "# team logins\nbuilder:\(hash)\n".write(toFile: "\(dir)/htpasswd", atomically: true, encoding: .utf8)
            let accessLog = "\(dir)/access.jsonl"
            let strata = try await StrataInstance.start(canonical: registry.url, configure: { config in
                config.htpasswd = "\(dir)/htpasswd"
                config.adminAccessLog = accessLog
            })
            defer { Task { await strata.stop() } }

            let anonymous = try await fetch("\(strata.url)/v2/")
            #expect(anonymous.status == 401)
            #expect(anonymous.headers.first(name: "WWW-Authenticate") == #"Basic realm="strata""#)
            #expect(RegistryAPI.code(anonymous.body) == "UNAUTHORIZED")
            let wrong = try await fetch("\(strata.url)/v2/", headers: [("Authorization", "Basic " + Data("builder:nope".utf8).base64EncodedString())])
            #expect(wrong.status == 401)
            let skopeo = try #require(Skopeo.executable)
            let out = makeTempDirectory("auth-copy")
            let denied = try runCommand(skopeo, ["--insecure-policy", "copy", "--src-tls-verify=false",
                                                 "docker://\(strata.hostPort)/library/small:1", "dir:\(out)-denied"])
            #expect(denied.status != 0)
            let allowed = try runCommand(skopeo, ["--insecure-policy", "copy", "--src-tls-verify=false", "--src-creds", "builder:\(password)",
                                                  "docker://\(strata.hostPort)/library/small:1", "dir:\(out)"])
            #expect(allowed.status == 0, "\(allowed.output)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(out)/manifest.json")) == Data(images.small.manifest))

            // A manifest hit answered from memory needs the login as much as the routes do:
            // a login verified a moment ago lets it through, no login or a wrong one does not.
            let manifest = "\(strata.url)/v2/library/small/manifests/1"
            let accept = ("Accept", images.small.mediaType)
            let login = ("Authorization", "Basic " + Data("builder:\(password)".utf8).base64EncodedString())
            #expect(try await fetch(manifest, headers: [accept, login]).status == 200)
            #expect(try await fetch(manifest, headers: [accept, login]).body == images.small.manifest)
            #expect(try await fetch(manifest, headers: [accept]).status == 401)
            #expect(try await fetch(manifest, method: .HEAD, headers: [accept]).status == 401)
            let wrongLogin = ("Authorization", "Basic " + Data("builder:\(password)x".utf8).base64EncodedString())
            #expect(try await fetch(manifest, headers: [accept, wrongLogin]).status == 401)

            let ledger = String(decoding: try await fetch("\(strata.adminURL)/api/requests?limit=1000").body, as: UTF8.self)
            await strata.stop()
            let logged = try String(contentsOfFile: accessLog, encoding: .utf8)
            let encoded = Data("builder:\(password)".utf8).base64EncodedString()
            for text in [ledger, logged] {
                #expect(!text.isEmpty)
                #expect(!text.contains(password))
                #expect(!text.contains(encoded))
            }
        }
    }
}
