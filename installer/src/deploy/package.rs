//! The runtime zip the stack's Lambda functions run: found, or built from the source checkout,
//! so nobody builds it by hand.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bucketdrive_core::config::Architecture;
use sha2::{Digest, Sha256};

use crate::output::Ui;

#[derive(Debug, Clone)]
pub struct Package {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub arch: Architecture,
}

impl Package {
    /// The content-addressed key in the artifact bucket.
    pub fn key(&self) -> String {
        format!("runtime/{}-{}.zip", self.arch.as_str(), self.sha256)
    }
}

/// The architecture of this machine, which is what a local emulator runs.
pub fn host_arch() -> Architecture {
    if cfg!(target_arch = "aarch64") {
        Architecture::Arm64
    } else {
        Architecture::X86_64
    }
}

/// The source checkout this binary was built from, when it is still there.
pub fn workspace() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_path_buf();
    dir.join("scripts/build-runtime").is_file().then_some(dir)
}

/// A zip that needs no build: `explicit` (`--runtime-zip`), else `bucketdrive-runtime-<arch>.zip`
/// next to this executable (release archives).
fn prebuilt_path(arch: Architecture, explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .map(|d| d.join(format!("bucketdrive-runtime-{}.zip", arch.as_str())))
        })
        .filter(|p| p.is_file())
}

/// Finds the zip for `arch`: `explicit` (`--runtime-zip`), then `bucketdrive-runtime-<arch>.zip`
/// next to this executable (release archives), then a build from the source checkout.
///
/// `local`: the zip is for an emulator on this machine, so a debug build for this machine does
/// (it shares the dependencies of the CLI's own build and skips a cross-compile).
pub fn locate(
    arch: Architecture,
    explicit: Option<&Path>,
    local: bool,
    ui: &Ui,
) -> anyhow::Result<Package> {
    let path = if let Some(p) = prebuilt_path(arch, explicit) {
        p
    } else if let Some(ws) = workspace() {
        build(&ws, arch, arch == host_arch() && local, ui)?
    } else {
        bail!(
            "no runtime zip for {}: pass `--runtime-zip FILE` (built with scripts/build-runtime --arch {}) or put bucketdrive-runtime-{}.zip next to the bucketdrive executable",
            arch.as_str(),
            arch.as_str(),
            arch.as_str()
        );
    };
    read(path, arch)
}

/// The zip when one is at hand without building (`plan` compares code only then).
pub fn locate_prebuilt(
    arch: Architecture,
    explicit: Option<&Path>,
) -> anyhow::Result<Option<Package>> {
    prebuilt_path(arch, explicit)
        .map(|p| read(p, arch))
        .transpose()
}

fn read(path: PathBuf, arch: Architecture) -> anyhow::Result<Package> {
    let bytes = std::fs::read(&path)
        .with_context(|| format!("cannot read the runtime zip `{}`", path.display()))?;
    if bytes.len() < 4 || &bytes[..4] != b"PK\x03\x04" {
        bail!("`{}` is not a zip file", path.display());
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(Package {
        path,
        bytes,
        sha256,
        arch,
    })
}

/// Runs scripts/build-runtime: `dev` builds a debug binary for this machine (what a local
/// emulator runs), otherwise a static release binary for `arch`.
fn build(workspace: &Path, arch: Architecture, dev: bool, ui: &Ui) -> anyhow::Result<PathBuf> {
    ui.status(format!(
        "building the Lambda runtime for {}{} (scripts/build-runtime)…",
        arch.as_str(),
        if dev { ", debug" } else { "" }
    ));
    let spinner = ui.spinner("building the runtime");
    let mut cmd = std::process::Command::new(workspace.join("scripts/build-runtime"));
    if dev {
        cmd.arg("--dev");
    } else {
        cmd.arg("--arch").arg(arch.as_str());
    }
    let out = cmd
        .current_dir(workspace)
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run scripts/build-runtime")?;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!("building the runtime failed:\n{}", tail.join("\n"));
    }
    let printed = String::from_utf8_lossy(&out.stdout);
    let rel = printed
        .lines()
        .last()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .context("scripts/build-runtime printed no zip path")?;
    Ok(workspace.join(rel))
}
