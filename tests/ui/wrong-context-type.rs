use legwork::activity;

#[activity]
fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

fn main() {}
