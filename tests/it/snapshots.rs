//! Snapshots of the Atom, RSS, JSON Feed and OPML output of the small `snapshot` fixture store,
//! so that every change to what gazette writes is reviewed (`tests/it/snapshots/*.snap`).
//! The files are compared byte for byte as text; after an intended change, run the tests with
//! `INSTA_UPDATE=always` (or `cargo insta review`) and commit the new `.snap` files.

use crate::helpers::Site;

#[test]
fn snapshot_store_output_matches_the_reviewed_snapshots() {
    let site = Site::with_store("snapshot");
    site.build().success();
    crate::validators::validate_all(&site.out);
    for rel in [
        "zh/atom.xml",
        "zh/rss.xml",
        "zh/feed.json",
        "en/atom.xml",
        "en/rss.xml",
        "en/feed.json",
        "zh/trade/atom.xml",
        "index.opml",
    ] {
        let name = rel.replace(['/', '.'], "_");
        insta::assert_snapshot!(name, site.read(rel));
    }
}
