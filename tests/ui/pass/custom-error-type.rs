use std::fmt;

use legwork::activity;

#[derive(Debug)]
struct TooSmall(u32);

impl fmt::Display for TooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is too small to halve", self.0)
    }
}

impl std::error::Error for TooSmall {}

#[activity]
fn halve(width: u32) -> Result<u32, TooSmall> {
    if width < 2 {
        return Err(TooSmall(width));
    }
    Ok(width / 2)
}

#[activity]
fn read(path: String) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

fn main() {
    assert_eq!(halve(4).unwrap(), 2);
}
