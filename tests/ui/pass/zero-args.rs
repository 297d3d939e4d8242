use legwork::{activity, ActivityContext};

#[activity]
fn now() -> u64 {
    42
}

#[activity]
fn now_with_context(ctx: &ActivityContext) -> u64 {
    let _ = ctx;
    42
}

fn main() {
    assert_eq!(now(), 42);
}
