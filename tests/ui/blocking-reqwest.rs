// reqwest is not a dependency: the check reads paths, not types.
mod reqwest {
    pub mod blocking {
        pub fn get(_: &str) {}
    }
}

use legwork::activity;

#[activity(async)]
async fn fetch(url: String) {
    reqwest::blocking::get(&url);
}

fn main() {}
