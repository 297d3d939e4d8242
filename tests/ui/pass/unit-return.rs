use legwork::{activity, ActivityError};

#[activity]
fn touch(path: String) -> () {
    let _ = path;
}

#[activity]
fn try_touch(path: String) -> Result<(), ActivityError> {
    let _ = path;
    Ok(())
}

fn main() {
    touch("a".into());
    try_touch("a".into()).unwrap();
}
