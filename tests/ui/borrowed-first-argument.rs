use legwork::activity;

#[activity]
fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&byte| u32::from(byte)).sum()
}

fn main() {}
