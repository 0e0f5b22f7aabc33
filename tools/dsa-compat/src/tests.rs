// SPDX-License-Identifier: GPL-2.0

//! Tests against a fake sysfs whose files are rendered by the same logic
//! the kernel module uses, so the tool reads what the driver writes.

use super::run;
use dsa_logic::{
    compat::{
        DeviceDesc,
        TypeDesc,
        Version, //
    },
    stream::STREAM_VERSION,
};
use std::{
    fs,
    path::{
        Path,
        PathBuf, //
    },
};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dsa-compat-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A parent `dsaN` with types of `bases` on `total` WQs.
fn parent(root: &Path, n: u32, bases: &[u32], total: u32) {
    for &base in bases {
        let dir = root.join(format!(
            "class/mdev_bus/dsa{n}/mdev_supported_types/dsa-{base}dwq"
        ));
        fs::create_dir_all(&dir).unwrap();
        let t = TypeDesc {
            base,
            max_aggregator: total / base,
            version: STREAM_VERSION,
        };
        fs::write(dir.join("compatible"), t.to_string()).unwrap();
        fs::write(
            dir.join("available_instances"),
            format!("{}\n", total / base),
        )
        .unwrap();
    }
}

/// A device `uuid` of `dsa-<base>dwq` with `aggregator`.
fn device(root: &Path, uuid: &str, base: u32, aggregator: u32, version: Version) {
    let dir = root.join("bus/mdev/devices").join(uuid).join("dsa");
    fs::create_dir_all(&dir).unwrap();
    let d = DeviceDesc {
        base,
        aggregator,
        version,
    };
    fs::write(dir.join("self"), d.to_string()).unwrap();
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn type_dir(root: &Path, n: u32, base: u32) -> String {
    root.join(format!(
        "class/mdev_bus/dsa{n}/mdev_supported_types/dsa-{base}dwq"
    ))
    .display()
    .to_string()
}

#[test]
fn the_seed_pair() {
    let root = scratch("seed");
    parent(&root, 0, &[1, 2, 4, 8], 64);
    device(&root, "a", 1, 30, STREAM_VERSION);
    let (ok, out) = run(&root, &args(&["check", "a", &type_dir(&root, 0, 2)]))
        .ok()
        .unwrap();
    assert!(!ok);
    assert!(
        out.contains("incompatible: mdev_type: the source has dsa-1dwq"),
        "{out}"
    );
    assert!(
        out.ends_with("fix: recreate the target as dsa-1dwq with aggregator 30\n"),
        "{out}"
    );
    let (ok, out) = run(&root, &args(&["check", "a", &type_dir(&root, 0, 1)]))
        .ok()
        .unwrap();
    assert!(ok, "{out}");
    assert_eq!(out, "compatible\n");
}

#[test]
fn aggregator_beyond_the_target_parent() {
    let root = scratch("agg");
    parent(&root, 0, &[1], 64);
    parent(&root, 1, &[1], 16);
    device(&root, "a", 1, 30, STREAM_VERSION);
    let (ok, out) = run(&root, &args(&["check", "a", &type_dir(&root, 1, 1)]))
        .ok()
        .unwrap();
    assert!(!ok);
    assert!(
        out.contains("aggregator: the source has 30, the target accepts 1-16"),
        "{out}"
    );
    // Only dsa0 can take it.
    let (ok, out) = run(&root, &args(&["targets", "a"])).ok().unwrap();
    assert!(ok);
    assert_eq!(
        out,
        "dsa0 dsa-1dwq aggregator=30 (available_instances 64)\n"
    );
}

#[test]
fn newer_minor_is_refused_and_json_says_why() {
    let root = scratch("minor");
    parent(&root, 0, &[2], 64);
    let newer = Version {
        major: STREAM_VERSION.major,
        minor: STREAM_VERSION.minor + 1,
    };
    device(&root, "a", 2, 1, newer);
    let (ok, out) = run(
        &root,
        &args(&["check", "a", &type_dir(&root, 0, 2), "--json"]),
    )
    .ok()
    .unwrap();
    assert!(!ok);
    assert!(out.starts_with("{\"compatible\":false,"), "{out}");
    assert!(out.contains("migration_version_minor"), "{out}");
    // Not a type or size problem: no recreate fix.
    assert!(out.contains("\"fix\":null"), "{out}");
    let (ok, out) = run(&root, &args(&["targets", "a", "--json"])).ok().unwrap();
    assert!(!ok);
    assert_eq!(out, "[]\n");
}

#[test]
fn a_device_target_means_its_type_and_files_work_directly() {
    let root = scratch("files");
    parent(&root, 0, &[4], 64);
    device(&root, "a", 4, 2, STREAM_VERSION);
    let self_file = root
        .join("bus/mdev/devices/a/dsa/self")
        .display()
        .to_string();
    let compatible = format!("{}/compatible", type_dir(&root, 0, 4));
    let (ok, _) = run(&root, &args(&["check", &self_file, &compatible]))
        .ok()
        .unwrap();
    assert!(ok);
}

#[test]
fn errors_are_status_two() {
    let root = scratch("errors");
    assert!(run(&root, &args(&["check", "missing", "x"])).is_err());
    assert!(run(&root, &args(&["frobnicate"])).is_err());
    device(&root, "bad", 1, 1, STREAM_VERSION);
    fs::write(
        root.join("bus/mdev/devices/bad/dsa/self"),
        "mdev_type={x}\n",
    )
    .unwrap();
    assert!(run(&root, &args(&["targets", "bad"])).is_err());
}

#[test]
fn a_device_target_must_have_the_source_aggregator() {
    let root = scratch("device-target");
    parent(&root, 0, &[2], 64);
    device(&root, "source-dev", 2, 3, STREAM_VERSION);
    for (uuid, aggregator) in [("same-dev", 3), ("other-dev", 4)] {
        device(&root, uuid, 2, aggregator, STREAM_VERSION);
        let dir = root.join("bus/mdev/devices").join(uuid).join("mdev_type");
        fs::create_dir_all(&dir).unwrap();
        let compatible = format!("{}/compatible", type_dir(&root, 0, 2));
        fs::copy(compatible, dir.join("compatible")).unwrap();
    }
    let (ok, out) = run(&root, &args(&["check", "source-dev", "same-dev"]))
        .ok()
        .unwrap();
    assert!(ok, "{out}");
    let (ok, out) = run(&root, &args(&["check", "source-dev", "other-dev"]))
        .ok()
        .unwrap();
    assert!(!ok);
    assert!(
        out.contains("incompatible: aggregator: the source has 3, the target device has 4"),
        "{out}"
    );
    assert!(
        out.contains("fix: recreate the target as dsa-2dwq with aggregator 3"),
        "{out}"
    );
}
