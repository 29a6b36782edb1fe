//! Scenario names on the command line: validated while parsing, with a suggestion for a
//! typo, and listed with their descriptions by `--list`.

use crate::scenarios::{self, explorable};

/// The closest of `known` to `name`, if it is close enough to be a typo of it.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// The one-line error for an unknown name: a suggestion, and where the list is.
pub(super) fn unknown<'a>(
    what: &str,
    name: &str,
    known: impl Iterator<Item = &'a str>,
    list: &str,
) -> String {
    match closest(name, known) {
        Some(k) => format!("no {what} `{name}`: did you mean `{k}`? (`{list}` lists them)"),
        None => format!("no {what} `{name}` (`{list}` lists them)"),
    }
}

/// clap's parser for `palisade sim NAME`: a simulator scenario, or an explorable one (for
/// `--scheduler random|pct`).
pub fn sim_scenario(name: &str) -> Result<String, String> {
    let known: Vec<&str> =
        scenarios::all().iter().map(|s| s.name).chain(explorable::all().iter().map(|e| e.name)).collect();
    if known.contains(&name) {
        return Ok(name.to_owned());
    }
    Err(unknown("scenario", name, known.into_iter(), "palisade sim --list"))
}

/// clap's parser for `palisade explore NAME`.
pub fn explorable_scenario(name: &str) -> Result<String, String> {
    let models = explorable::all();
    if models.iter().any(|e| e.name == name) {
        return Ok(name.to_owned());
    }
    Err(unknown("explorable scenario", name, models.iter().map(|e| e.name), "palisade explore --list"))
}

/// `name  about` lines, the names padded to one column, the descriptions on one line each.
pub fn listing<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let items: Vec<(&str, String)> =
        items.map(|(n, a)| (n, a.split_whitespace().collect::<Vec<_>>().join(" "))).collect();
    let width = items.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    items.iter().map(|(n, a)| format!("{n:<width$}  {a}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_nearest_name_and_nonsense_gets_none() {
        let e = sim_scenario("unfencd").unwrap_err();
        assert!(e.contains("did you mean `unfenced`?"), "{e}");
        assert!(e.contains("palisade sim --list"), "{e}");
        let e = sim_scenario("zzzzzzzz").unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
        assert_eq!(sim_scenario("fencing").as_deref(), Ok("fencing"));
        assert!(explorable_scenario("abd-no-writeback").unwrap_err().contains("`abd-no-write-back`"));
    }

    #[test]
    fn the_listing_has_one_line_per_name_with_its_description() {
        let text = listing([("a", "first\n   line"), ("long-name", "second")].into_iter());
        assert_eq!(text, "a          first line\nlong-name  second\n");
    }
}
