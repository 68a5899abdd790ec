//! The test image really builds and runs.

use std::process::Command;

#[test]
fn busybox_image_builds_and_runs() {
    let tag = berth_test_support::busybox_image().unwrap();
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", &tag, "/bin/echo", "ok"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}
