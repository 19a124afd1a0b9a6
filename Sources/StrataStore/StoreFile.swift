#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// An open file that closes itself when the last reference goes.
///
/// Fills share one descriptor between the writer and every reader; `pread`/`pwrite` at
/// explicit offsets make that safe without a shared file position.
public final class StoreFile: Sendable {
    public let fd: Int32
    public let path: String

    public init(path: String, flags: Int32, mode: mode_t = 0o644) throws(StoreError) {
        let fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .io("open", path, errno: errno) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    public func size() throws(StoreError) -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io("stat", path, errno: errno) }
        return Int64(st.st_size)
    }

    /// Reads up to `count` bytes at `offset`, blocking. Returns fewer only at end of file.
    public func read(at offset: Int64, count: Int, into buffer: inout ByteBuffer) throws(StoreError) {
        var done = 0
        while done < count {
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - done) { ptr in
                let r = pread(fd, ptr.baseAddress, count - done, off_t(offset) + off_t(done))
                return r < 0 ? 0 : r
            }
            if n == 0 {
                // Either end of file or an error; tell them apart by errno on a retry-free read.
                var probe: UInt8 = 0
                let r = pread(fd, &probe, 1, off_t(offset) + off_t(done))
                if r < 0 { throw .io("read", path, errno: errno) }
                return
            }
            done += n
        }
    }

    /// Reads exactly `bytes.count` bytes at `offset` into `bytes`, blocking; a short file
    /// is an error.
    public func read(at offset: Int64, into bytes: UnsafeMutableRawBufferPointer) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let r = pread(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if r < 0 {
                if errno == EINTR { continue }
                throw .io("read", path, errno: errno)
            }
            if r == 0 { throw .corrupt("\(path) ends before byte \(offset + Int64(bytes.count))") }
            done += r
        }
    }

    /// Writes the whole buffer at `offset`, blocking.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let r = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if r < 0 {
                if errno == EINTR { continue }
                throw .io("write", path, errno: errno)
            }
            done += r
        }
    }

    public func sync() throws(StoreError) {
        guard fsync(fd) == 0 else { throw .io("fsync", path, errno: errno) }
    }
}

/// Small blocking file-system helpers.
enum FS {
    static func makeDirectories(_ path: String) throws(StoreError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw .io("mkdir", current, errno: errno)
            }
        }
    }

    static func rename(_ from: String, _ to: String) throws(StoreError) {
        guard Glibc.rename(from, to) == 0 else { throw .io("rename", to, errno: errno) }
    }

    /// Removes a file or a whole directory tree; missing paths are fine.
    static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for entry in list(path) { removeTree("\(path)/\(entry)") }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        // The name is read where it lies: a dirent is only as long as its name needs, so
        // copying the whole `d_name` array (256 bytes) can read past the end of the
        // directory buffer, into an unmapped page (a crash seen with large shards).
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(dir) {
            let name = String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func fsyncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }
}
