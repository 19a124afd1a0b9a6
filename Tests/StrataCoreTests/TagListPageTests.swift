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
        let repo = try RepositoryName("library/x")
        #expect(TagListPage.nextPage(link: #"</v2/library/x/tags/list?last=b&n=2>; rel="next""#, repository: repo)
                == "/v2/library/x/tags/list?last=b&n=2")
        #expect(TagListPage.nextPage(link: #"<https://other.example/v2/library/x/tags/list?n=1>; rel="next""#, repository: repo) == nil)
        #expect(TagListPage.nextPage(link: #"</v2/library/y/tags/list?n=1>; rel="next""#, repository: repo) == nil)
        #expect(TagListPage.nextPage(link: #"</v2/library/x/tags/listing>; rel="next""#, repository: repo) == nil)
        #expect(TagListPage.nextPage(link: #"</v2/library/x/tags/list?n=1>; rel="prev""#, repository: repo) == nil)
    }
}
