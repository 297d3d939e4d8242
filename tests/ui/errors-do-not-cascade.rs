// Every misuse is reported at once, and the function is still emitted: the callers
// below compile, so only the macro's own errors show.
use legwork::activity;

#[activity(async, colour = "blue")]
fn resize<T>(path: &str, width: u32) -> u32 {
    let _ = path;
    width / 2
}

fn main() {
    let half: u32 = resize::<()>("a.png", 640);
    assert_eq!(half, 320);
}
