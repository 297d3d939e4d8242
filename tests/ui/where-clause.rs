use legwork::activity;

#[activity]
fn resize(width: u32) -> u32
where
    u32: Copy,
{
    width / 2
}

fn main() {}
