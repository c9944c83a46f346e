//! Files published with a press release: which names a release may publish (plain names of
//! regular files beside it, never a link or a folder), their media types and lengths. The
//! attachment block is read by `press_release::attachments`; serving is `web::attachments`.

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

/// The attachment `name` beside an article in `folder`, when `name` is a plain file name and
/// a regular file of that name is there: a symbolic link is refused, so nothing outside the
/// store is ever published through one.
pub fn file(folder: &Path, name: &str) -> Option<(PathBuf, u64)> {
    if !is_plain_name(name) {
        return None;
    }
    let path = folder.join(name);
    let metadata = std::fs::symlink_metadata(&path).ok()?;
    metadata.is_file().then_some((path, metadata.len()))
}

/// The media type of a file, by its extension; `application/octet-stream` when unknown.
pub fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "ofd" => "application/ofd",
        "rtf" => "application/rtf",
        "zip" => "application/zip",
        "rar" => "application/vnd.rar",
        "7z" => "application/x-7z-compressed",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
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
        assert_eq!(media_type("日程安排.PDF"), "application/pdf");
        assert_eq!(
            media_type("参会回执.docx"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(media_type("README"), "application/octet-stream");
    }
}
