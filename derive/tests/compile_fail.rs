//! Bad attributes are refused at compile time with a message naming what is wrong and where
//! (the expected messages are the `.stderr` files beside each case in `tests/ui/`).

#[test]
fn bad_attributes_are_refused() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
