use legwork::activity;

#[activity(async)]
async fn load(path: String) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[activity(async)]
async fn save(path: String, text: String) -> std::io::Result<()> {
    use std::fs::File;
    use std::io::Write;
    File::create(path)?.write_all(text.as_bytes())
}

fn main() {}
