use std::time::Duration;

use legwork::activity;

#[activity(async)]
async fn nap(seconds: u64) {
    std::thread::sleep(Duration::from_secs(seconds));
}

#[activity(async)]
async fn doze(seconds: u64) {
    use std::thread::sleep;
    sleep(Duration::from_secs(seconds));
}

fn main() {}
