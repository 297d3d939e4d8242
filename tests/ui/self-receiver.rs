use legwork::activity;

struct Images;

impl Images {
    #[activity]
    fn resize(&self, width: u32) -> u32 {
        width / 2
    }
}

fn main() {}
