//! Replacing a file atomically: a temporary file in the same folder, renamed over the old one,
//! so a reader (a feed reader, the HTTP server, the next build) sees the old file or the new
//! one, never half of one. Used for feeds, the index cache, the outbox and previews.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Replaces `path` with `bytes` through a temporary file in the same folder and a rename.
/// There is no fsync: readers never see a partial file, and after a crash the next build
/// rewrites any file whose bytes differ (the index cache is checked when read).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
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
