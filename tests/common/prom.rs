//! The Prometheus text format (`/metrics` of the worker and of the dev server), read the
//! one way every test needs.

/// The values of the series of `name` whose label set contains each of `labels` (written
/// `key="value"`); a metric without labels matches when `labels` is empty.
pub fn series(text: &str, name: &str, labels: &[&str]) -> Vec<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let label_set = match series.strip_prefix(name)? {
                "" => "",
                rest => rest.strip_prefix('{')?.strip_suffix('}')?,
            };
            let has = |label: &&str| label_set.split(',').any(|pair| pair == *label);
            labels.iter().all(has).then(|| value.parse().ok())?
        })
        .collect()
}

/// The values of [`series`] summed; `None` when no series matches.
pub fn find(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let values = series(text, name, labels);
    (!values.is_empty()).then(|| values.iter().sum())
}

/// [`find`], with no series counting as 0.
pub fn sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    find(text, name, labels).unwrap_or(0.0)
}
