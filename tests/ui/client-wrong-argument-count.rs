use legwork::activity;
use legwork::client::{ActivityOptions, Client};

#[activity]
fn resize(path: String, width: u32) -> String {
    format!("{path}@{width}")
}

async fn call(client: &Client) {
    let _ = ResizeActivity::execute(client, ActivityOptions::new("images"), "a.png".to_owned()).await;
}

fn main() {}
