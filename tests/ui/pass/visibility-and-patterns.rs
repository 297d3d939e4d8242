mod images {
    use legwork::activity;

    /// Documented, public, and still an ordinary function.
    #[activity]
    pub fn resize(mut width: u32, (w, h): (u32, u32), _: bool) -> u32 {
        width += w + h;
        width
    }

    #[activity]
    pub(crate) fn crop(r#type: String) -> String {
        r#type
    }
}

fn main() {
    assert_eq!(images::resize(1, (2, 3), true), 6);
    assert_eq!(images::crop("png".into()), "png");
}
