use legwork::activity;

#[activity]
fn first<'a>(words: Vec<String>) -> String {
    words.into_iter().next().unwrap_or_default()
}

fn main() {}
