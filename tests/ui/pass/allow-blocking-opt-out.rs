// `allow_blocking`: the author accepts that these calls hold up the event loop.
use std::time::Duration;

use legwork::activity;

#[activity(async, allow_blocking)]
async fn nap(path: String) -> std::io::Result<String> {
    std::thread::sleep(Duration::from_millis(1));
    let _ = std::process::Command::new("true").status();
    let handle = std::thread::spawn(|| 2);
    assert_eq!(handle.join().unwrap(), 2);
    std::fs::read_to_string(path)
}

fn main() {}
