import Foundation

/// Standard output for the commands: written at once (through a pipe a buffer would
/// hold lines back), and when the reader went away (`strata requests | head`) the
/// command ends quietly with status 0 instead of trapping on the broken pipe.
enum Output {
    /// Writes `text` and `terminator` to standard output.
    static func write(_ text: String, terminator: String = "\n") {
        ignoreBrokenPipeSignal
        var bytes = Array((text + terminator).utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                Foundation.write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                // EPIPE (the reader is gone) or any other failure to write: nothing more can be said.
                Foundation.exit(errno == EPIPE ? 0 : 1)
            }
        }
        bytes.removeAll()
    }

    /// SIGPIPE would end the process silently with status 141; ignored, a write to a
    /// closed pipe fails with EPIPE and ``write(_:terminator:)`` decides.
    private static let ignoreBrokenPipeSignal: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()
}
