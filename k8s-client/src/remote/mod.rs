//! Streaming subresources over upgraded connections: exec, attach, port-forward, logs.
