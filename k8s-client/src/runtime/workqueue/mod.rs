//! Work queues: dedupe, one worker per key, delaying and rate-limited queues.
