use legwork::activity;

#[activity(memory_limit = "512MiB")]
fn render() {}

fn main() {}
