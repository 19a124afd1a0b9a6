import ArgumentParser
import Foundation

/// A command's failure: one line on standard error, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Prints `strata: <message>` on standard error and exits with status 1.
func exitWithError(_ message: String) -> Never {
    FileHandle.standardError.write(Data("strata: \(message)\n".utf8))
    Foundation.exit(1)
}

/// Runs a command body; a ``CommandFailure`` becomes one line and exit status 1.
func runReporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CommandFailure {
        exitWithError(error.description)
    }
}

/// Turns any error into a one-line command failure.
func wrap<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as CommandFailure {
        throw error
    } catch {
        throw CommandFailure("\(error)")
    }
}

func wrap<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as CommandFailure {
        throw error
    } catch {
        throw CommandFailure("\(error)")
    }
}
