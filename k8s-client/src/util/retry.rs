//! `retry_on_conflict`, as client-go's `retry.RetryOnConflict` with `retry.DefaultRetry`.
