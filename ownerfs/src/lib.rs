//! Owner-only file modes: a data directory 0700, every file in it 0600,
//! created that way or tightened at start (explicit modes through
//! `PermissionsExt`, never the process umask). Used by `verifier-server`
//! (`--data DIR`: database, WAL/SHM, keys, the generation file, demo
//! files) and `field-client` (`DIR`: `client.db`, the device key, the
//! seal); one crate because `shared` does no I/O.
//!
//! SQLite creates `-wal` and `-shm` with the mode of the database file, so
//! the database is created 0600 *before* SQLite opens it; files left behind
//! by an older version (0644) are tightened when the directory is opened.

#![forbid(unsafe_code)]

use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Mode of private directories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of private files.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with mode 0700, or tightens an
/// existing one to 0700. Returns whether an existing mode was changed.
pub fn private_dir(dir: &Path) -> anyhow::Result<bool> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("creating directory {}", dir.display()))?;
    tighten(dir, DIR_MODE)
}

/// Creates `path` empty with mode 0600 if it does not exist (so that
/// whatever opens it next, SQLite included, keeps that mode), or tightens
/// it to 0600. Returns whether an existing mode was changed.
pub fn private_file(path: &Path) -> anyhow::Result<bool> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => tighten(path, FILE_MODE),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Tightens `path` to `mode` when it grants anything to group or others.
/// Symbolic links are left alone (their target is not ours to change).
fn tighten(path: &Path, mode: u32) -> anyhow::Result<bool> {
    let meta = fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.file_type().is_symlink() || meta.permissions().mode() & 0o077 == 0 {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("restricting {} to its owner", path.display()))?;
    Ok(true)
}

/// Tightens `dir` to 0700 and everything below it (directories 0700,
/// files 0600; symbolic links skipped). Returns the paths whose mode was
/// changed.
pub fn tighten_tree(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    if private_dir(dir)? {
        changed.push(dir.to_path_buf());
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry.with_context(|| format!("listing {}", d.display()))?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_symlink() {
                continue;
            }
            let mode = if kind.is_dir() { DIR_MODE } else { FILE_MODE };
            if tighten(&path, mode)? {
                changed.push(path.clone());
            }
            if kind.is_dir() {
                stack.push(path);
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_private_and_tightens_what_exists() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("data");
        assert!(!private_dir(&dir).unwrap());
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("a.db");
        assert!(!private_file(&f).unwrap());
        assert_eq!(mode(&f), 0o600);

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        let sub = dir.join("sub");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o775)).unwrap();
        fs::write(sub.join("x"), b"x").unwrap();
        fs::set_permissions(sub.join("x"), fs::Permissions::from_mode(0o666)).unwrap();
        let changed = tighten_tree(&dir).unwrap();
        assert_eq!(changed.len(), 4, "{changed:?}");
        assert_eq!(
            (mode(&dir), mode(&f), mode(&sub), mode(&sub.join("x"))),
            (0o700, 0o600, 0o700, 0o600)
        );
        assert!(tighten_tree(&dir).unwrap().is_empty());
    }
}
