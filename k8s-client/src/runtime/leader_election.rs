//! Lease-based leader election (client-go `tools/leaderelection`).
