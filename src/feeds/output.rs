//! Writing feed files only when their bytes change ([`crate::atomic::write`] replaces them
//! whole), so an unchanged feed keeps its mtime and HTTP caches stay valid.

use std::path::Path;

use anyhow::Result;

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
    crate::atomic::write(path, bytes)?;
    Ok(Written::Changed)
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
