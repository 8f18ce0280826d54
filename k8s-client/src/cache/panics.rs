//! Calling user code (handlers, transforms, index functions) so that a panic in it is
//! caught, logged and counted instead of silently stopping a task or leaving a store
//! half-updated.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message of a caught panic (its `&str` or `String` payload, if it has one).
pub(crate) fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Runs `f`; a panic comes back as `Err` with its message.
///
/// The closures given here only read or consume their inputs, and what they leave behind
/// after a panic is dropped or replaced by the caller, so unwind safety is asserted.
pub(crate) fn call<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| message(p.as_ref()).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_their_message() {
        assert_eq!(call(|| 1), Ok(1));
        assert_eq!(call(|| -> u8 { panic!("boom") }), Err("boom".to_string()));
        let n = 3;
        assert_eq!(
            call(|| -> u8 { panic!("boom {n}") }),
            Err("boom 3".to_string())
        );
        assert_eq!(
            call(|| -> u8 { std::panic::panic_any(7u32) }),
            Err("(no message)".to_string())
        );
    }
}
