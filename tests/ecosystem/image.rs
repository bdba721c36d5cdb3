//! The OCI image archive `make image` builds without Docker (`tools/image`): its config is the
//! Dockerfile's (user 65532, exec-form entrypoint, no shell), and the binary from the image's
//! root filesystem is the release build without the simulator and runs with the image's own
//! dynamic loader and libraries.
//!
//! The archive comes from `WSO_IMAGE_ARCHIVE` (set by `make test`, which runs `make image`
//! first), else `target/image/watson-speech-operator-<version>.oci.tar`. Missing, the test is
//! skipped with a loud message, unless `WSO_REQUIRE_IMAGE=1` (set by `make test`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

fn archive_path() -> PathBuf {
    std::env::var_os("WSO_IMAGE_ARCHIVE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
                "target/image/watson-speech-operator-{}.oci.tar",
                env!("CARGO_PKG_VERSION")
            ))
        })
}

/// Every regular file of a tar, by path.
fn read_tar(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        if entry.header().entry_type().is_file() {
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read entry");
            files.insert(path, data);
        }
    }
    files
}

/// The blob a descriptor names, with its digest and size checked.
fn blob<'a>(layout: &'a BTreeMap<String, Vec<u8>>, descriptor: &Value) -> &'a [u8] {
    let digest = descriptor["digest"].as_str().expect("digest");
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    let data = layout
        .get(&format!("blobs/sha256/{hex}"))
        .unwrap_or_else(|| panic!("blob {digest} missing from the layout"));
    assert_eq!(hex::encode(Sha256::digest(data)), hex, "digest of {digest}");
    assert_eq!(descriptor["size"].as_u64(), Some(data.len() as u64));
    data
}

/// The ELF section names of a 64-bit little-endian binary (enough to tell a release build,
/// which has no `.debug_*` sections (`strip = "debuginfo"`), from the test profile's, which
/// keeps line tables).
fn elf_section_names(elf: &[u8]) -> Vec<String> {
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().expect("4 bytes")) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().expect("8 bytes")) as usize;
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF");
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let strtab = u64_at(shoff + shstrndx * shentsize + 0x18);
    (0..shnum)
        .map(|i| {
            let name = strtab + u32_at(shoff + i * shentsize);
            let end = elf[name..].iter().position(|&b| b == 0).expect("NUL") + name;
            String::from_utf8_lossy(&elf[name..end]).into_owned()
        })
        .collect()
}

#[test]
fn the_image_archive_holds_the_release_binary_that_runs_on_its_own_libraries() {
    let path = archive_path();
    let Ok(outer) = std::fs::read(&path) else {
        let msg = format!("no image archive at {} (run `make image`)", path.display());
        if matches!(
            std::env::var("WSO_REQUIRE_IMAGE").as_deref(),
            Ok("1") | Ok("true")
        ) {
            panic!("{msg}");
        }
        eprintln!(
            "\n!!!!!!!!!!\n!! SKIPPING the image test: {msg}\n!! (WSO_REQUIRE_IMAGE=1 makes this a failure; `make test` sets it)\n!!!!!!!!!!\n"
        );
        return;
    };
    let layout = read_tar(&outer);
    let oci_layout: Value = serde_json::from_slice(&layout["oci-layout"]).expect("oci-layout");
    assert_eq!(oci_layout["imageLayoutVersion"], "1.0.0");

    // index.json -> the one manifest, named with the version as its tag.
    let index: Value = serde_json::from_slice(&layout["index.json"]).expect("index.json");
    let manifests = index["manifests"].as_array().expect("manifests");
    assert_eq!(manifests.len(), 1, "{index}");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        manifests[0]["annotations"]["org.opencontainers.image.ref.name"],
        version
    );
    assert_eq!(
        manifests[0]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let manifest: Value = serde_json::from_slice(blob(&layout, &manifests[0])).expect("manifest");

    // The config: the Dockerfile's USER, ENTRYPOINT (exec form: no shell runs it), CMD, EXPOSE
    // and LABELs.
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let config: Value = serde_json::from_slice(blob(&layout, &manifest["config"])).expect("config");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    let c = &config["config"];
    assert_eq!(c["User"], "65532:65532");
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/usr/local/bin/watson-speech-operator"])
    );
    assert_eq!(c["Cmd"], serde_json::json!(["run"]));
    assert!(c["ExposedPorts"].get("8080/tcp").is_some(), "{c}");
    let labels = &c["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.title"],
        "watson-speech-operator"
    );
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    assert_eq!(labels["org.opencontainers.image.version"], version);
    assert!(labels["org.opencontainers.image.description"].is_string());

    // The root filesystem: one gzip layer.
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let mut layer_tar = Vec::new();
    flate2::read::GzDecoder::new(blob(&layout, &layers[0]))
        .read_to_end(&mut layer_tar)
        .expect("gunzip the layer");
    assert_eq!(
        config["rootfs"]["diff_ids"][0].as_str(),
        Some(format!("sha256:{}", hex::encode(Sha256::digest(&layer_tar))).as_str()),
        "diff_id of the layer"
    );
    let root = tempfile::tempdir().expect("tempdir");
    let mut archive = tar::Archive::new(layer_tar.as_slice());
    archive.set_preserve_permissions(true);
    archive.unpack(root.path()).expect("unpack the layer");
    let files = read_tar(&layer_tar);
    let in_root = |p: &str| root.path().join(p.trim_start_matches('/'));

    // No shell (the entrypoint needs none), CA certificates, the user 65532.
    for shell in ["bin/sh", "bin/bash", "usr/bin/sh", "bin/busybox"] {
        assert!(!files.contains_key(shell), "{shell} in the image");
    }
    let cas = String::from_utf8_lossy(&files["etc/ssl/certs/ca-certificates.crt"]).into_owned();
    assert!(cas.matches("BEGIN CERTIFICATE").count() > 10, "a CA bundle");
    let passwd = String::from_utf8_lossy(&files["etc/passwd"]).into_owned();
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");

    // The release build without the simulator (`--no-default-features`), as the Dockerfile's.
    let binary = &files["usr/local/bin/watson-speech-operator"];
    let sections = elf_section_names(binary);
    assert!(sections.iter().any(|s| s == ".text"), "{sections:?}");
    assert!(
        !sections.iter().any(|s| s.starts_with(".debug_")),
        "debug sections: not the release profile: {sections:?}"
    );

    // Run it with the image's dynamic loader and libraries only: the loader lists where each
    // library resolves, and every one is inside the image.
    let loader = in_root("/lib64/ld-linux-x86-64.so.2");
    assert!(loader.exists(), "the dynamic loader is in the image");
    let lib_path = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"]
        .map(|d| in_root(d).to_string_lossy().into_owned())
        .join(":");
    let exe = in_root("/usr/local/bin/watson-speech-operator");
    let run = |args: &[&str]| {
        let out = Command::new(&loader)
            .arg("--library-path")
            .arg(&lib_path)
            .arg(&exe)
            .args(args)
            .env_clear()
            .output()
            .expect("run the image's binary");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    };
    let listing = Command::new(&loader)
        .arg("--library-path")
        .arg(&lib_path)
        .arg("--list")
        .arg(&exe)
        .output()
        .expect("ld.so --list");
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let root_str = root.path().to_string_lossy().into_owned();
    for line in listing.lines().filter(|l| l.contains("=>")) {
        assert!(
            line.contains(&root_str),
            "a library from outside the image: {line}\n{listing}"
        );
    }
    assert!(listing.contains("libc.so.6"), "{listing}");

    let (ok, stdout, stderr) = run(&["--version"]);
    assert!(ok, "--version: {stderr}");
    assert_eq!(stdout.trim(), format!("watson-speech-operator {version}"));

    let (ok, stdout, stderr) = run(&["crd"]);
    assert!(ok, "crd: {stderr}");
    assert_eq!(
        stdout,
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/speech.watson.dev.yaml")
        )
        .expect("crds/"),
        "the image's binary prints the committed CRDs"
    );

    let (ok, _, stderr) = run(&["simulate", "--help"]);
    assert!(!ok, "the image's binary has no simulator");
    assert!(stderr.contains("unrecognized subcommand"), "{stderr}");
}
