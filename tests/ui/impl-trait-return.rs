use legwork::activity;

#[activity]
fn greet(name: String) -> impl serde::Serialize {
    format!("Hello, {name}!")
}

fn main() {}
