import Foundation

/// Why a file named by the user cannot be read, in words: for one-line errors.
public enum UnreadableFile {
    public static func reason(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "it is a directory" }
        return FileManager.default.isReadableFile(atPath: path) ? "it is not UTF-8 text" : "permission denied"
    }
}
