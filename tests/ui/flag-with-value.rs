use legwork::activity;

#[activity(async = true)]
async fn fetch(url: String) -> String {
    url
}

fn main() {}
