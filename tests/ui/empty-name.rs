use legwork::activity;

#[activity(name = "")]
fn resize(width: u32) -> u32 {
    width / 2
}

fn main() {}
