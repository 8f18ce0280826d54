//! A private control plane per test, for tests that restart or reconfigure the server.
