use legwork::activity;

#[activity]
const fn resize(width: u32) -> u32 {
    width / 2
}

fn main() {}
