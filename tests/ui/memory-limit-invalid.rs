use legwork::activity;

#[activity(isolated, memory_limit = 512)]
fn bare_number() {}

#[activity(isolated, memory_limit = "512MB")]
fn decimal_unit() {}

#[activity(isolated, memory_limit = "0GiB")]
fn zero() {}

#[activity(isolated, memory_limit)]
fn missing() {}

fn main() {}
