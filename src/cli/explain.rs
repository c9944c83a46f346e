//! `gazette check --explain FILE…`: each press-release file's parse, as the store would read
//! it under this config (its chrome patterns, its languages, the attachments beside the file).
//! The reading is the store's (`store::press_text::explain`); this only prints it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::config::Config;
use crate::store::classify::Classifier;
use crate::store::{Format, ParseContext, press_text};

/// Prints the parse of each of `files`; exits 1 if one cannot be read.
pub fn run(config: &Config, files: &[PathBuf]) -> Result<ExitCode> {
    let classifier = Classifier::new(&config.sectors)?;
    let ctx = ParseContext { config, classifier: &classifier };
    let mut failed = false;
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("{}", file.display());
        match explain(file, &ctx) {
            Ok(text) => print!("{text}"),
            Err(message) => {
                println!("error: {}:{message}", file.display());
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn explain(file: &Path, ctx: &ParseContext) -> Result<String, String> {
    let is_text = file.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("txt"));
    if !is_text {
        return Err(" not a press-release text file (.txt)".to_owned());
    }
    let bytes = std::fs::read(file).map_err(|e| format!(" cannot read: {e}"))?;
    let located = |e: crate::store::article::FileError| match e.line {
        Some(line) => format!("{line}: {}", e.message),
        None => format!(" {}", e.message),
    };
    let text = crate::store::text_of(Format::PressRelease, &bytes).map_err(located)?;
    let encoding = if std::str::from_utf8(&bytes).is_ok() { "UTF-8" } else { "GB18030 or Big5" };
    let folder = file.parent().unwrap_or(Path::new("."));
    let parse = press_text::explain(&text, folder, ctx).map_err(located)?;
    Ok(format!("encoding: {encoding}\n{parse}"))
}
