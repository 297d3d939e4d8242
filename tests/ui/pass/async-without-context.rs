use legwork::activity;

#[activity(async)]
async fn fetch(url: String, retries: u8) -> String {
    format!("{url}#{retries}")
}

#[activity(async, allow_blocking)]
async fn ping() {}

fn main() {}
