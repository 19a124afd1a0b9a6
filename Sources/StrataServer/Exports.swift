// The configuration is its own module (so it can be fuzzed without the server);
// users of the server see it as before.
@_exported import StrataConfig
