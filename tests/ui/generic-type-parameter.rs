use legwork::activity;

#[activity]
fn echo<T: serde::Serialize>(value: T) -> T {
    value
}

fn main() {}
