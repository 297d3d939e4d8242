// A plain fn runs on the blocking pool: blocking is what it is for.
use std::time::Duration;

use legwork::activity;

#[activity]
fn nap(path: String) -> std::io::Result<String> {
    std::thread::sleep(Duration::from_millis(1));
    std::thread::spawn(|| ()).join().unwrap();
    std::fs::read_to_string(path)
}

fn main() {
    assert!(nap("/nonexistent/legwork".to_owned()).is_err());
}
