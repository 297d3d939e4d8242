use legwork::activity;

#[activity]
unsafe fn resize(width: u32) -> u32 {
    width / 2
}

fn main() {}
