use legwork::{activity, ActivityContext};

#[activity]
fn greet(ctx: &mut ActivityContext, name: String) -> String {
    let _ = ctx;
    format!("Hello, {name}!")
}

fn main() {}
