use legwork::activity;

#[activity]
fn log(line: String) {
    let _ = line;
}

fn main() {
    log("hello".into());
}
