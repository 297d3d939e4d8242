use legwork::{activity, ActivityError};

struct Size {
    width: u32,
}

#[activity]
fn resize(width: u32) -> Result<Size, ActivityError> {
    Ok(Size { width: width / 2 })
}

fn main() {}
