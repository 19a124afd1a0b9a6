import Logging

/// swift-log's `StreamLogHandler` output to standard error, formatting metadata only
/// when a line is written.
///
/// Hummingbird gives every request's logger a request id; `StreamLogHandler` formats all
/// of its metadata on every such change, which showed as about 5% of the CPU time of
/// cached manifest requests. Here the metadata is kept as it is and handed to a
/// `StreamLogHandler` for the lines that pass the level.
struct LazyStreamLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
        handler.logLevel = logLevel
        handler.metadata = metadata
        handler.log(event: event)
    }
}
