use legwork::activity;

#[activity(max_concurrent = 4)]
fn render(frame: u32) -> u32 {
    frame
}

#[activity(async, max_concurrent = 1, name = "upload")]
async fn upload_file(path: String) -> String {
    path
}

#[activity]
fn unlimited() {}

fn main() {
    let registry = legwork::registry::Registry::linked().unwrap();
    assert_eq!(registry.get("render").unwrap().max_concurrent(), Some(4));
    assert_eq!(registry.get("upload").unwrap().max_concurrent(), Some(1));
    assert_eq!(registry.get("unlimited").unwrap().max_concurrent(), None);
}
