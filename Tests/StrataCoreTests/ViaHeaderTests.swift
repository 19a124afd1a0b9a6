import StrataCore
import Testing

@Suite struct ViaHeaderTests {
    @Test func theStrataHopsInOrder() {
        #expect(ViaHeader.stratas("1.1 strata-edge1, 1.1 proxy.lan (squid), 1.1 strata-central") == ["strata-edge1", "strata-central"])
        #expect(ViaHeader.stratas("1.1 proxy.lan") == [])
        #expect(ViaHeader.names("1.1 strata-edge1, 1.1 strata-central", instanceID: "central"))
        #expect(!ViaHeader.names("1.1 strata-edge1", instanceID: "edge"))
    }

    @Test func hostileValuesAreBounded() {
        let many = (0..<100).map { "1.1 strata-\($0)" }.joined(separator: ", ")
        #expect(ViaHeader.stratas(many).count == 8)
        #expect(ViaHeader.stratas("1.1 strata-" + String(repeating: "a", count: 100)) == [])
        #expect(ViaHeader.stratas("1.1 strata-<script>") == [])
        #expect(ViaHeader.stratas(String(repeating: "x", count: 5000) + ", 1.1 strata-late") == [])
    }
}
