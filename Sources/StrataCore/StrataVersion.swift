/// This build's version, as `strata --version`, the start-up log and the dashboard say it.
public enum StrataVersion {
    public static let current = "0.5.0"
}
