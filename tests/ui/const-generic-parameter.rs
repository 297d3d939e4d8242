use legwork::activity;

#[activity]
fn scale<const N: u32>(width: u32) -> u32 {
    width * N
}

fn main() {}
