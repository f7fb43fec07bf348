//! The shipped unit file is real systemd syntax, and its sandbox stays tight.

use std::path::Path;
use std::process::Command;

/// The unit with its ExecStart pointing at the freshly built binary, in a temp dir.
fn unit_for_test() -> (tempfile::TempDir, std::path::PathBuf) {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/feedwatch.service"),
    )
    .unwrap();
    // `feedwatch` is found on systemd's search path; here it is the binary just built.
    let unit = src.replace(
        "=feedwatch ",
        &format!("={} ", env!("CARGO_BIN_EXE_feedwatch")),
    );
    assert!(unit.contains(env!("CARGO_BIN_EXE_feedwatch")), "{unit}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feedwatch.service");
    std::fs::write(&path, unit).unwrap();
    (dir, path)
}

#[test]
fn unit_file_passes_systemd_analyze_verify() {
    let (_dir, path) = unit_for_test();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is required (.ci/run installs the systemd package)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("feedwatch.service:"),
        "warnings about our unit: {stderr}"
    );
}

#[test]
fn unit_file_sandbox_exposure_is_low() {
    let (_dir, path) = unit_for_test();
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{text}"));
    let level: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(level <= 2.0, "exposure {level} > 2.0: {line}");
}
