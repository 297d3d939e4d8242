use std::thread;

use legwork::activity;

#[activity(async)]
async fn crunch(n: u64) -> u64 {
    thread::spawn(move || n * 2).join().unwrap()
}

#[activity(async)]
async fn crunch_later(n: u64) -> u64 {
    let handle = std::thread::spawn(move || n * 2);
    handle.join().unwrap()
}

fn main() {}
