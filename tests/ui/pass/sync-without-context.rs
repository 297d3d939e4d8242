use legwork::activity;

#[activity]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

fn main() {
    assert_eq!(greet("Ada".into()), "Hello, Ada!");
}
