import StrataCore
import Testing

@Suite struct S3XMLTests {
    @Test func aListingPageAndItsToken() {
        let xml = Array("""
            <?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Name>b</Name><IsTruncated>true</IsTruncated><Contents><Key>tags/a&amp;b</Key><Size>3</Size></Contents>\
            <Contents><Key>tags/&#x1234;</Key></Contents><NextContinuationToken>tok==</NextContinuationToken></ListBucketResult>
            """.utf8)
        #expect(S3XML.listPage(xml)?.keys == ["tags/a&b", "tags/\u{1234}"] && S3XML.listPage(xml)?.nextToken == "tok==")
    }

    @Test func malformedAnswersYieldNothing() {
        #expect(S3XML.listPage(Array("<html>nope</html>".utf8)) == nil)
        #expect(S3XML.values(of: "Key", in: Array("<ListBucketResult><Key>a<b></Key>".utf8)) == [])
        #expect(S3XML.values(of: "Key", in: Array("<Key>&bogus;</Key>".utf8)) == [])
        #expect(S3XML.values(of: "Key", in: Array("<Key>unterminated".utf8)) == [])
        #expect(S3XML.values(of: "Key", in: [0x3c, 0x4b, 0x65, 0x79, 0x3e, 0xff, 0x3c, 0x2f, 0x4b, 0x65, 0x79, 0x3e]) == [])
        #expect(S3XML.value(of: "Code", in: Array("<Error><Code>NoSuchKey</Code></Error>".utf8)) == "NoSuchKey")
    }

    @Test func listingTimesAndSizes() {
        #expect(S3XML.timestamp("1970-01-01T00:00:00Z") == 0)
        #expect(S3XML.timestamp("2000-03-01T00:00:00.000Z") == 951_868_800)
        #expect(S3XML.timestamp("2026-11-30T10:07:03.5Z") == 1_796_033_223.5)
        #expect(S3XML.timestamp("2026-13-30T10:07:03Z") == nil)
        #expect(S3XML.timestamp("not a time at all, no") == nil)
        // More fraction digits than nanoseconds: refused, not read into an Int that overflows.
        #expect(S3XML.timestamp("2026-11-30T10:07:03.9999999999999999999Z") == nil)
        #expect(S3XML.timestamp("2026-11-30T10:07:03.123456789Z") != nil)
        let xml = Array("<ListBucketResult><Contents><Key>a</Key><LastModified>1970-01-01T00:00:10.000Z</LastModified><Size>12</Size></Contents></ListBucketResult>".utf8)
        #expect(S3XML.listPage(xml)?.entries == [S3XML.Entry(key: "a", size: 12, lastModified: 10)])
    }
}
