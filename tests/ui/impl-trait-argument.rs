use legwork::activity;

#[activity]
fn greet(name: impl Into<String>) -> String {
    format!("Hello, {}!", name.into())
}

fn main() {}
