use legwork::activity;

#[derive(Debug)]
struct TooSmall;

#[activity]
fn resize(width: u32) -> Result<u32, TooSmall> {
    if width < 2 {
        return Err(TooSmall);
    }
    Ok(width / 2)
}

fn main() {}
