//! Files published with a press release: which names a release may publish (plain names of
//! regular files beside it, never a link, a folder or a device, and only of the document kinds
//! below), their media types and lengths, and opening one to serve. The attachment block is
//! read by `press_release::attachments`; serving is `web::attachments`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::press_release::attachments::is_plain_name;

/// One published attachment, as the feed writers and the article page see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The file name as written in the press release (and kept for download).
    pub name: String,
    /// Where it is served (absolute, percent-encoded).
    pub url: String,
    /// Its length in bytes.
    pub length: u64,
    /// Its media type, from the file name.
    pub media_type: &'static str,
}

/// The folder of the article file `rel` (store-relative, `/`-separated) inside `store`.
pub fn folder_of(store: &Path, rel: &str) -> PathBuf {
    match rel.rsplit_once('/') {
        Some((folder, _)) => store.join(folder),
        None => store.to_path_buf(),
    }
}

/// The attachment `name` beside an article in `folder`, when `name` is a plain file name of a
/// kind published and a regular file of that name is there: a symbolic link is refused, so
/// nothing outside the store is ever published through one.
pub fn file(folder: &Path, name: &str) -> Option<(PathBuf, u64)> {
    if !is_plain_name(name) || media_type(name).is_none() {
        return None;
    }
    let path = folder.join(name);
    let metadata = std::fs::symlink_metadata(&path).ok()?;
    metadata.is_file().then_some((path, metadata.len()))
}

/// Opens the attachment `name` beside an article in `folder` to serve it: `None` unless it is
/// a publishable name and, as opened, a regular file. The checks are made on the open file
/// (`O_NOFOLLOW`, then `fstat`), so a link or FIFO put in its place after the build is refused
/// rather than followed or waited on (`O_NONBLOCK`).
pub fn open(folder: &Path, name: &str) -> std::io::Result<Option<(std::fs::File, std::fs::Metadata)>> {
    use std::os::unix::fs::OpenOptionsExt as _;
    if !is_plain_name(name) || media_type(name).is_none() {
        return Ok(None);
    }
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(folder.join(name));
    let file = match opened {
        Ok(file) => file,
        // ELOOP: a symbolic link; ENOENT: gone since the build; ENXIO: a socket.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let metadata = file.metadata()?;
    Ok(metadata.is_file().then_some((file, metadata)))
}

/// The media type of a file, by its extension, when it is a kind published: office
/// documents, PDF and OFD, archives, images, audio and video. Nothing a browser would run
/// (HTML, SVG, XML, scripts), no article source (`.md`, `.txt`) and none of the site's own
/// files (`.toml`, `.db`) is ever an attachment, whatever a block names.
pub fn media_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase())?;
    Some(match ext.as_str() {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "ofd" => "application/ofd",
        // WPS Office's own formats, common in Chinese government offices: no registered type.
        "wps" | "et" | "dps" => "application/octet-stream",
        "rtf" => "application/rtf",
        "zip" => "application/zip",
        "rar" => "application/vnd.rar",
        "7z" => "application/x-7z-compressed",
        "csv" => "text/csv",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "tif" | "tiff" => "image/tiff",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_that_leave_the_folder_links_and_folders() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("回执.docx"), b"x").expect("write");
        std::fs::create_dir(dir.path().join("sub.pdf")).expect("mkdir");
        assert_eq!(file(dir.path(), "回执.docx").map(|(_, len)| len), Some(1));
        assert!(file(dir.path(), "../回执.docx").is_none());
        assert!(file(dir.path(), "../../etc/passwd").is_none());
        assert!(file(dir.path(), "sub.pdf").is_none());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd.txt")).expect("symlink");
            assert!(file(dir.path(), "passwd.txt").is_none());
        }
    }

    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(media_type("日程安排.PDF"), Some("application/pdf"));
        assert_eq!(
            media_type("参会回执.docx"),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        );
        assert_eq!(media_type("README"), None);
    }

    #[test]
    fn active_content_sources_and_site_files_are_no_kind_published() {
        for name in [
            "page.html",
            "page.htm",
            "page.xhtml",
            "logo.svg",
            "feed.xml",
            "script.js",
            "style.css",
            "notice.txt",
            "other.md",
            "config.toml",
            "gazette.db",
            "gazette.db-wal",
            "store-index",
            "a.pdf.html",
            "x.exe",
        ] {
            assert_eq!(media_type(name), None, "{name}");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("page.html"), b"<script>").expect("write");
        assert!(file(dir.path(), "page.html").is_none());
        assert!(open(dir.path(), "page.html").expect("open").is_none());
    }

    #[test]
    fn opening_refuses_links_folders_and_fifos_found_in_place_of_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.pdf"), b"%PDF").expect("write");
        std::fs::write(dir.path().join("outside.pdf"), b"secret").expect("write");
        std::os::unix::fs::symlink(dir.path().join("outside.pdf"), dir.path().join("link.pdf")).expect("symlink");
        std::fs::create_dir(dir.path().join("dir.pdf")).expect("mkdir");
        let fifo = std::process::Command::new("mkfifo").arg(dir.path().join("fifo.pdf")).status().expect("mkfifo");
        assert!(fifo.success());
        assert_eq!(open(dir.path(), "a.pdf").expect("open").map(|(_, m)| m.len()), Some(4));
        for refused in ["link.pdf", "dir.pdf", "fifo.pdf", "missing.pdf", "../a.pdf"] {
            assert!(open(dir.path(), refused).expect("open").is_none(), "{refused}");
        }
    }
}
