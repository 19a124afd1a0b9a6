import Foundation
import Testing
@testable import StrataObjectStore

/// Signatures checked against AWS's published examples: the Signature Version 4 test
/// suite (service `service`, 2015-08-30) and the S3 API reference's header examples
/// (2013-05-24).
@Suite struct SignatureV4Tests {
    static func signature(_ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == "Authorization" }?.1.components(separatedBy: "Signature=").last
    }

    static let suite = SignatureV4(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                   region: "us-east-1", service: "service")
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    static func suiteSignature(method: String = "GET", path: String = "/", query: [(String, String)] = []) -> String? {
        signature(suite.sign(method: method, path: path, query: query, headers: [("Host", "example.amazonaws.com")],
                             payloadHash: SignatureV4.emptyPayloadHash, date: suiteDate))
    }

    @Test func theTestSuitesVectors() {
        #expect(Self.suiteSignature() == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")  // get-vanilla
        #expect(Self.suiteSignature(query: [("Param1", "value1")]) == "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb")
        #expect(Self.suiteSignature(query: [("Param2", "value2"), ("Param1", "value1")])
                == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")  // get-vanilla-query-order-key-case
        #expect(Self.suiteSignature(query: [("Param1", "value2"), ("Param1", "Value1")])
                == "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1")  // get-vanilla-query-order-value
        #expect(Self.suiteSignature(query: [("\u{1234}", "bar")]) == "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")  // get-vanilla-utf8-query
        #expect(Self.suiteSignature(path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
                == "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")  // get-unreserved
    }

    static let s3 = SignatureV4(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    static let s3Date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    static let host = ("Host", "examplebucket.s3.amazonaws.com")

    @Test func theS3ReferenceExamples() {
        let empty = SignatureV4.emptyPayloadHash
        let get = Self.s3.sign(method: "GET", path: "/test.txt", query: [],
                               headers: [Self.host, ("Range", "bytes=0-9"), ("x-amz-content-sha256", empty)], payloadHash: empty, date: Self.s3Date)
        #expect(Self.signature(get) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        let body = SignatureV4.sha256Hex(Array("Welcome to Amazon S3.".utf8))
        #expect(body == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let put = Self.s3.sign(method: "PUT", path: "/test$file.text", query: [],
                               headers: [Self.host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                                         ("x-amz-content-sha256", body)], payloadHash: body, date: Self.s3Date)
        #expect(Self.signature(put) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
        let list = Self.s3.sign(method: "GET", path: "/", query: [("max-keys", "2"), ("prefix", "J")],
                                headers: [Self.host, ("x-amz-content-sha256", empty)], payloadHash: empty, date: Self.s3Date)
        #expect(Self.signature(list) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
        #expect(put.first { $0.0 == "Authorization" }?.1.contains("SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class") == true)
    }

    @Test func encodingIsTheS3Kind() {
        #expect(SignatureV4.encode("a b+c/d", keepSlash: true) == "a%20b%2Bc/d")
        #expect(SignatureV4.encode("a/b", keepSlash: false) == "a%2Fb")
        #expect(SignatureV4.encode("ключ", keepSlash: false) == "%D0%BA%D0%BB%D1%8E%D1%87")
        #expect(SignatureV4.trim("  a   b  ") == "a b")
    }
}
