use legwork::activity;

#[activity(name = "shrink", name = "resize")]
fn resize(width: u32) -> u32 {
    width / 2
}

fn main() {}
