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
    assert!(dom.matches("class=\"msg ").count() > 100, "message arrows drawn");
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
