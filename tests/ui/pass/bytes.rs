use legwork::activity;

#[activity]
fn reverse(mut data: Vec<u8>) -> Vec<u8> {
    data.reverse();
    data
}

fn main() {
    assert_eq!(reverse(vec![1, 2]), [2, 1]);
}
