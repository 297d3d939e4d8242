// Every blocking call is reported at once, and the function is still emitted: the
// caller below compiles, so only the macro's own errors show.
use std::time::Duration;

use legwork::activity;

#[activity(async, name = "publish")]
async fn publish(path: String) -> std::io::Result<()> {
    std::thread::sleep(Duration::from_millis(10));
    let text = std::fs::read_to_string(&path)?;
    let status = std::process::Command::new("publish").arg(text).status()?;
    assert!(status.success());
    Ok(())
}

fn main() {
    let _future = publish("a.txt".to_owned());
}
