//! A space-time diagram of one run as a single self-contained HTML file: one lane per node
//! over simulated time, messages as arrows (dropped ones marked), pauses and crashes as
//! shaded spans, partitions and degraded links as bands, each node's clock error, protocol
//! events, and the checker's violation highlighted at its event. Nothing is fetched from
//! the network: the data and the drawing script are inline.
//!
//! The input is the run's JSON-lines trace ([`crate::trace::Trace::export_to`]), so a diagram can
//! be drawn from any saved trace as well as from a fresh run.

mod model;

pub use model::{Model, ModelError};

use crate::ViolationReport;

/// The drawing script and styles, inlined into every page.
const SCRIPT: &str = include_str!("diagram.js");
const STYLE: &str = include_str!("diagram.css");

/// Arrows and marks kept at most; a longer run keeps those nearest the violation (or the
/// end) and says how many it left out.
pub const DEFAULT_CAP: usize = 40_000;

/// Builds the page for a run from its JSON-lines `trace`.
pub fn render(
    title: &str,
    trace: &str,
    violation: Option<&ViolationReport>,
    gst_ns: u64,
) -> Result<String, ModelError> {
    let model = Model::from_trace(title, trace, violation, gst_ns, DEFAULT_CAP)?;
    Ok(page(&model))
}

/// The HTML page for `model`.
pub fn page(model: &Model) -> String {
    // No `<` at all inside the script element: `</script>` would end it early, and `<!--`
    // followed by `<script` would put the parser in a state that swallows the drawing
    // script. JSON reads `\u003c` as `<`.
    let data = serde_json::to_string(model).unwrap_or_else(|_| "null".into()).replace('<', "\\u003c");
    let title = escape(&model.title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body>\
         <header><h1>{title}</h1><p id=\"summary\"></p><p class=\"help\">Scroll to zoom in time, drag to pan, \
         hover for details, double-click to reset; step through events with ◀ ▶ or the arrow keys.</p>\
         <div id=\"legend\"></div></header>\
         <div id=\"chart\"></div><div id=\"stepper\"><button id=\"prev\">◀ previous</button>\
         <button id=\"next\">next ▶</button><pre id=\"step\"></pre></div><div id=\"tip\" hidden></div>\n\
         <script id=\"data\" type=\"application/json\">{data}</script>\n<script>{SCRIPT}</script>\n</body></html>\n"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained_and_escapes_its_data() {
        let trace = r#"{"i":0,"t_ns":0,"kind":"clock","node":1,"ppm":0,"offset_ns":0}
{"i":1,"t_ns":5,"kind":"event","node":1,"event":{"Note":"</script><b>"}}
"#;
        let html = render("a <test>", trace, None, 0).unwrap();
        assert!(html.contains("<title>a &lt;test&gt;</title>"));
        assert!(!html.contains("</script><b>"), "data must not close the script element");
        let html = render("t", &trace.replace("</script><b>", "<!--<script>"), None, 0).unwrap();
        assert!(!html.contains("<!--<script>"), "no comment-and-script state in the data");
        for fetch in [" src=", " href=", "fetch(", "XMLHttpRequest", "@import", "url("] {
            assert!(!html.contains(fetch), "the page must fetch nothing, found {fetch}");
        }
        assert_eq!(html.matches("<script").count(), 2);
    }
}
