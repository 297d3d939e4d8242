use legwork::activity;

#[activity]
struct Resize {
    width: u32,
}

fn main() {}
