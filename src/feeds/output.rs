//! Writing output files safely: a file is replaced only when its bytes change, through a
//! temporary file in the same folder and a rename, so a reader (or the HTTP server) sees the
//! old file or the new one, never half of one, and an unchanged file keeps its mtime.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Whether a write changed the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The file was created or its bytes changed.
    Changed,
    /// The file already held these bytes.
    Unchanged,
}

/// Writes `bytes` to `path` unless it already holds exactly them.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<Written> {
    if let Ok(existing) = std::fs::read(path)
        && existing == bytes
    {
        return Ok(Written::Unchanged);
    }
    write_atomic(path, bytes)?;
    Ok(Written::Changed)
}

/// Replaces `path` with `bytes` through a temporary file in the same folder and a rename.
/// There is no fsync: readers never see a partial file, and after a crash the next build
/// rewrites any file whose bytes differ (the index cache is checked when read).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".gazette-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    // Readable by the web server like any published file (tempfile creates 0600).
    set_mode_0644(tmp.as_file()).with_context(|| format!("cannot set the permissions of {}", path.display()))?;
    tmp.persist(path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn set_mode_0644(file: &std::fs::File) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    Ok(file.set_permissions(std::fs::Permissions::from_mode(0o644))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_when_bytes_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zh/atom.xml");
        assert_eq!(write_if_changed(&path, b"one").unwrap(), Written::Changed);
        assert_eq!(write_if_changed(&path, b"one").unwrap(), Written::Unchanged);
        assert_eq!(write_if_changed(&path, b"two").unwrap(), Written::Changed);
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("zh")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }
}
