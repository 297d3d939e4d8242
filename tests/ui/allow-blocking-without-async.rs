use legwork::activity;

#[activity(allow_blocking)]
fn resize(width: u32) -> u32 {
    width / 2
}

fn main() {}
