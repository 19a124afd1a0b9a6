import StrataCore
import Testing

@Suite struct TagListPageTests {
    @Test func aPageKeepsValidTagsOnly() {
        let page = TagListPage(parsing: Array(#"{"name":"x","tags":["1","latest","bad tag","-x",""]}"#.utf8))
        #expect(page?.tags.map(\.value) == ["1", "latest"])
        #expect(TagListPage(parsing: Array(#"{"name":"x","tags":null}"#.utf8))?.tags == [])
        #expect(TagListPage(parsing: Array(#"{"tags":[1,2]}"#.utf8)) == nil)
        #expect(TagListPage(parsing: Array("[".utf8) + Array(repeating: UInt8(ascii: "["), count: 100_000)) == nil)
    }

    @Test func theNextPageStaysOnTheRepositorysListing() throws {
        let listing = "/v2/\(try RepositoryName("library/x").value)/tags/list"
        #expect(LinkHeader.nextPage(#"</v2/library/x/tags/list?last=b&n=2>; rel="next""#, path: listing)
                == "/v2/library/x/tags/list?last=b&n=2")
        #expect(LinkHeader.nextPage(#"<https://other.example/v2/library/x/tags/list?n=1>; rel="next""#, path: listing) == nil)
        #expect(LinkHeader.nextPage(#"</v2/library/y/tags/list?n=1>; rel="next""#, path: listing) == nil)
        #expect(LinkHeader.nextPage(#"</v2/library/x/tags/listing>; rel="next""#, path: listing) == nil)
        #expect(LinkHeader.nextPage(#"</v2/library/x/tags/list?n=1>; rel="prev""#, path: listing) == nil)
    }
}
