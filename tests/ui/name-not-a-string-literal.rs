use legwork::activity;

#[activity(name = shrink)]
fn resize(width: u32) -> u32 {
    width / 2
}

fn main() {}
