use legwork::activity;

#[activity]
extern "C" fn resize(width: u32) -> u32 {
    width / 2
}

fn main() {}
