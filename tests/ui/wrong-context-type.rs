use legwork::{activity, ActivityInfo};

#[activity]
fn greet(info: &ActivityInfo, name: String) -> String {
    format!("Hello, {name}, attempt {}!", info.attempt)
}

fn main() {}
