use legwork::activity;

#[activity(isolated)]
async fn fetch() -> u32 {
    1
}

#[activity(async, isolated)]
async fn fetch_flagged() -> u32 {
    1
}

fn main() {}
