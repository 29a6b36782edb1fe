//! The space-time diagram in a real browser: `palisade sim … --html` writes a page, headless
//! Chromium loads it from disk, and the DOM it builds must hold every lane, the messages
//! and the highlighted violation, with no script error. `.ci/run` installs Debian's
//! `chromium` and sets PALISADE_REQUIRE_CHROMIUM=1 so the test cannot skip there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PALISADE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Runs Chromium headless on `page` with `args`, in a fresh profile, killing its whole
/// process group if it takes longer than a minute. Returns (stdout, stderr).
fn headless(browser: &Path, page: &Path, args: &[&str], profile: &Path) -> (String, String) {
    use std::os::unix::process::CommandExt;
    let _ = std::fs::remove_dir_all(profile);
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let pgid = child.id();
    let out = std::thread::spawn({
        let mut so = child.stdout.take().expect("stdout");
        move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut so, &mut s);
            s
        }
    });
    let err = std::thread::spawn({
        let mut se = child.stderr.take().expect("stderr");
        move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut se, &mut s);
            s
        }
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(60) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever happened, nothing Chromium started outlives the test.
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
    let _ = child.wait();
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    assert!(status.is_some(), "chromium did not finish within a minute; stderr:\n{stderr}");
    (stdout, stderr)
}

#[test]
fn the_diagram_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("PALISADE_REQUIRE_CHROMIUM").is_none(),
            "PALISADE_REQUIRE_CHROMIUM is set but no chromium was found"
        );
        eprintln!(
            "SKIPPED: no chromium at /usr/bin/chromium (apt-get install chromium, or set PALISADE_CHROMIUM)"
        );
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diagram_browser");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let page = dir.join("observer-pause.html");
    // A run with a violation, pauses and suspicions: the paused observer wrongly suspects.
    let status = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["sim", "observer-pause-unguarded", "--seed", "1", "--html"])
        .arg(&page)
        .stdout(Stdio::null())
        .status()
        .expect("run palisade sim");
    assert_eq!(status.code(), Some(1), "the hazard scenario reports its violation");
    let html = std::fs::read_to_string(&page).expect("page written");
    assert!(html.len() > 10_000, "the page carries the run's data");

    let (dom, log) = headless(&browser, &page, &["--dump-dom"], &dir.join("profile"));
    for bad in ["Uncaught", "SyntaxError", "TypeError", "ReferenceError"] {
        assert!(!log.contains(bad), "script error in the page ({bad}):\n{log}");
    }
    assert!(
        dom.contains("data-ready=\"1\""),
        "the drawing script ran to the end:\n{}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("data-lanes=\"5\""), "an SVG with five lanes");
    for n in 1..=5 {
        assert!(dom.contains(&format!("class=\"lane\" data-node=\"{n}\"")), "lane n{n} drawn");
    }
    // (It opens zoomed on the violation: the arrows near it.)
    assert!(dom.matches("class=\"msg ").count() > 20, "message arrows drawn");
    assert!(dom.contains("class=\"span pause\""), "the observer's pause is shaded");
    assert!(dom.contains("class=\"violation\""), "the violation is marked");
    assert!(dom.contains("detector::never_suspects_live"), "the violation names its checker");
    assert!(dom.contains("mark event violating"), "the violating event is highlighted");

    // A screenshot for people to look at (target/tmp/diagram_browser/observer-pause.png).
    let shot = dir.join("observer-pause.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &browser,
        &page,
        &[&format!("--screenshot={}", shot.display()), "--window-size=1600,700"],
        &dir.join("profile"),
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a real screenshot");
}

/// Runs `args` (a `palisade` command writing a page), loads the page in Chromium and
/// returns its DOM, after checking the script ran without error.
fn rendered(browser: &Path, dir: &Path, name: &str, args: &[&str]) -> String {
    let page = dir.join(format!("{name}.html"));
    let out =
        Command::new(env!("CARGO_BIN_EXE_palisade")).args(args).arg(&page).output().expect("run palisade");
    assert!(page.exists(), "{args:?} wrote no page: {out:?}");
    let (dom, log) = headless(browser, &page, &["--dump-dom"], &dir.join(format!("profile-{name}")));
    for bad in ["Uncaught", "SyntaxError", "TypeError", "ReferenceError"] {
        assert!(!log.contains(bad), "{name}: script error ({bad}):\n{log}");
    }
    assert!(dom.contains("data-ready=\"1\""), "{name}: the drawing script ran to the end");
    let _ = headless(
        browser,
        &page,
        &[&format!("--screenshot={}", dir.join(format!("{name}.png")).display()), "--window-size=1600,1000"],
        &dir.join(format!("profile-{name}")),
    );
    dom
}

/// The two pages that must be readable without hovering: who wrote what with which
/// token (`unfenced`), and which node equivocated with which value (`bracha-crash-quorums`).
#[test]
fn the_diagram_explains_the_failure_without_hovering() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("PALISADE_REQUIRE_CHROMIUM").is_none(),
            "PALISADE_REQUIRE_CHROMIUM set, no chromium"
        );
        eprintln!("SKIPPED: no chromium");
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diagram_explains");
    std::fs::create_dir_all(&dir).expect("temp dir");

    // Seed 1: n4 holds token 6, pauses, n5 is granted token 7 and writes; n4 wakes and
    // writes under token 6, and the storage n2 accepts it.
    let dom = rendered(&browser, &dir, "unfenced", &["sim", "unfenced", "--seed", "1", "--html"]);
    assert!(dom.contains("class=\"ring\""), "the violating event is ringed");
    assert!(dom.contains("accepted token 6"), "the accepting event names its token");
    assert!(dom.contains("class=\"msg delivered violating\""), "the write that caused it is highlighted");
    // Who wrote what with which token, without hovering: the arrows are labelled.
    for label in ["class=\"msg-label\">Write token 7 ", "class=\"msg-label\">Write token 6 "] {
        assert!(dom.contains(label), "an arrow labelled {label}");
    }
    // The step-through panel opens at the violation, with each node's last events.
    assert!(dom.contains("n2 event accepted token 6"), "the step panel is at the violating event");
    assert!(dom.contains("n2: accepted token 7"), "every node's last events");
    // Opened zoomed: the axis covers well under the whole run, and no two ticks read alike.
    let ticks: Vec<&str> =
        dom.split("class=\"tick\">").skip(1).map(|t| t.split('<').next().unwrap_or("")).collect();
    assert!(ticks.len() >= 3, "{ticks:?}");
    let mut distinct = ticks.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), ticks.len(), "tick labels repeat: {ticks:?}");

    // Seed 6 has partitions and messages held at paused nodes near its violation. Bands are
    // drawn over the lane backgrounds: the band layer follows the lanes' rects.
    let dom = rendered(&browser, &dir, "unfenced-6", &["sim", "unfenced", "--seed", "6", "--html"]);
    let (first_band, last_lane_bg) = (dom.find("class=\"band partition\""), dom.rfind("fill=\"#f3f4f2\""));
    assert!(first_band.is_some(), "a partition band");
    assert!(last_lane_bg < first_band, "bands after (above) the lane backgrounds");
    assert!(dom.contains("class=\"held-wait\""), "messages held at a paused node wait out the pause");

    // (Seed 2: the first seed that fails since each Byzantine node draws from a stream of
    // its own.)
    let dom = rendered(&browser, &dir, "bracha", &["sim", "bracha-crash-quorums", "--seed", "2", "--html"]);
    assert!(dom.matches("class=\"msg-label\"").count() >= 5, "arrows are labelled");
    // n1 tells n2 one value and n3 another: two labels, two colours in the legend.
    for story in ["Ready \"value 1 from n1\"", "Ready \"LIE 1 from n1\""] {
        assert!(dom.contains(&format!("class=\"msg-label\">{story}<")), "an arrow labelled {story}");
        assert!(dom.contains(&format!("</i>{story}</span>")), "a legend colour for {story}");
    }
    assert!(dom.contains("class=\"ring\""), "the violating event is ringed");
    let summary = dom.split("id=\"summary\">").nth(1).and_then(|s| s.split('<').next()).unwrap_or_default();
    assert!(
        summary.contains("VIOLATION") && !summary.contains("GST"),
        "no GST in a run cut short: {summary}"
    );
    assert!(!dom.contains("class=\"gst\""), "no GST line");

    // A saved trace draws the same way, violation included.
    let trace = dir.join("unfenced.jsonl");
    let status = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["sim", "unfenced", "--seed", "1", "--trace"])
        .arg(&trace)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let dom = rendered(&browser, &dir, "saved", &["diagram", trace.to_str().unwrap(), "-o"]);
    assert!(
        dom.contains("class=\"ring\"") && dom.contains("fencing::writes_follow_grant_order"),
        "saved trace"
    );
}
