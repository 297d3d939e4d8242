use legwork::{activity, ActivityContext};

#[activity]
fn greet(name: String, ctx: &ActivityContext) -> String {
    let _ = ctx;
    format!("Hello, {name}!")
}

fn main() {}
