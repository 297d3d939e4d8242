use legwork::activity;

struct Size {
    width: u32,
}

#[activity]
fn resize(size: Size) -> u32 {
    size.width / 2
}

fn main() {}
