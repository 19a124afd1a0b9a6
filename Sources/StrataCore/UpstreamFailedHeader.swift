/// The header a Strata's `503` carries when it works but every one of its own tiers
/// failed: the failed attempts, as its ledger names them (`canonical=transport`). A
/// Strata in front of it reads it as "this tier is up" and keeps it out of its breaker;
/// any other tier's 503 means the tier itself failed.
public enum UpstreamFailedHeader {
    public static let name = "X-Strata-Upstream-Failed"
}
