use legwork::{activity, ActivityContext};

#[activity]
fn greet(ctx: &ActivityContext, name: &str) -> String {
    let _ = ctx;
    format!("Hello, {name}!")
}

fn main() {}
