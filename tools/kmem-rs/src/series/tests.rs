// SPDX-License-Identifier: GPL-2.0-only
//! The tests of `series`: the repository's series.toml, small series of
//! two and three postings (fixtures the `check` tests share), and the
//! repository's fragments applied to the base tree.

use super::*;
use crate::overlay::{apply_fragments, base_file_in, overlay_files, Fragment};
use crate::run::command;
use crate::setup::BASE_TAG;
use std::collections::BTreeMap;

/// The patches the `fixes` suite's sweeps guard (`cargo kmem --without`).
const FIXES_SUITE_WITHOUT: &[&str] = &["mm_add_pages", "mm_vmalloc", "x86_direct_map"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn repo_series_is_complete() {
    let s = Series::load(&repo()).unwrap();
    let files = overlay_files(&repo()).unwrap();
    s.check_covers(&files).unwrap();
    for f in files.iter().filter(|f| f.ends_with(".fragment")) {
        let frag = Fragment::parse(f, &fs::read_to_string(repo().join(f)).unwrap()).unwrap();
        for h in &frag.hunks {
            s.hunk_owner(f, h).unwrap();
        }
    }
    for i in 0..s.patches.len() {
        let m = s.message(i).unwrap();
        assert!(m.ends_with(&format!("Signed-off-by: {}\n", s.identity)));
        // Commit messages wrap at 75 columns, as checkpatch wants;
        // Fixes: and Link: tags are never wrapped.
        assert!(
            m.lines()
                .all(|l| l.len() <= 75 || l.starts_with("Fixes: ") || l.starts_with("Link: ")),
            "{}",
            s.patches[i].message
        );
    }
    for i in 0..s.postings.len() {
        s.posting_subject(i).unwrap();
        if let Some(c) = &s.postings[i].cover_letter {
            let text = fs::read_to_string(s.dir.join(c)).unwrap();
            assert!(
                text.contains("\n\n"),
                "{c}: a subject, a blank line, the body"
            );
        }
    }
}

/// The shape of the repository's series: one per tree, in the order
/// they stack, the Rust series last and on top of all the fixes.
#[test]
fn repo_series_shape() {
    let s = Series::load(&repo()).unwrap();
    let ids: Vec<&str> = s.postings.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["dax", "mm", "x86", "rust"]);
    let rust = s.posting("rust").unwrap();
    assert_eq!(s.postings[rust].based_on, ["dax", "mm", "x86"]);
    assert_eq!(s.postings[rust].version, 3);
    // What goes to the lists: the mm patch upstream already queued and the
    // x86 patch (an earlier series stands for it) are tested, not posted.
    let posted = s.posted();
    let ids: Vec<&str> = posted.postings.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["dax", "mm", "rust"]);
    let held: Vec<&str> = posted.held.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(held, ["mm_add_pages", "x86_direct_map"]);
    let posted_rust = posted.posting("rust").unwrap();
    assert_eq!(posted.postings[posted_rust].based_on, ["dax", "mm"]);
    assert_eq!(posted.patch_range(posted.posting("mm").unwrap()).len(), 3);
    // The Rust series' patches that others build on come first.
    let order: Vec<&str> = s
        .patch_range(rust)
        .map(|i| s.patches[i].id.as_str())
        .collect();
    let at = |id: &str| order.iter().position(|p| *p == id).unwrap();
    assert!(at("str_sysfs_streq") < at("dax") && at("attributes") < at("dax"));
    assert!(at("numa_node_id") < at("memory_hotplug"));
    assert!(at("region_system_ram") < at("memory_hotplug"));
    assert!(at("memory_hotplug") < at("driver") && at("dax") < at("driver"));
}

pub(crate) const TWO: &str = r#"
        date = "2026-01-01T00:00:00+00:00"
        test_matrix = "m"
        [identity]
        name = "A"
        email = "a@b"
        [[series]]
        id = "fix"
        [[series]]
        id = "feat"
        version = 3
        cover_letter = "c"
        based_on = ["fix"]
        [[patch]]
        id = "one"
        series = "fix"
        message = "1"
        paths = ["a/x.rs", "d/"]
        [[patch]]
        id = "two"
        series = "feat"
        message = "2"
        paths = ["b/y.rs"]
        [[patch]]
        id = "three"
        series = "feat"
        message = "3"
        paths = ["b/z.rs"]
    "#;

fn two() -> Series {
    Series::parse(TWO).unwrap()
}

/// Three series: `fix` and `other` apply to the base, `feat` on top of
/// `fix` only.
pub(crate) fn three() -> Series {
    Series::parse(
        r#"
            date = "2026-01-01T00:00:00+00:00"
            test_matrix = "m"
            [identity]
            name = "A"
            email = "a@b"
            [[series]]
            id = "fix"
            [[series]]
            id = "other"
            [[series]]
            id = "feat"
            cover_letter = "c"
            based_on = ["fix"]
            [[patch]]
            id = "f1"
            series = "fix"
            message = "1"
            paths = []
            [[patch]]
            id = "o1"
            series = "other"
            message = "2"
            paths = []
            [[patch]]
            id = "a1"
            series = "feat"
            message = "3"
            paths = []
            [[patch]]
            id = "a2"
            series = "feat"
            message = "4"
            paths = []
            "#,
    )
    .unwrap()
}

#[test]
fn owners() {
    let s = two();
    assert_eq!(s.owner("a/x.rs"), Some(0));
    assert_eq!(s.owner("d/e/f.sh"), Some(0));
    assert_eq!(s.owner("b/y.rs"), Some(1));
    assert_eq!(s.owner("c"), None);
    assert!(s.check_covers(&["a/x.rs".into(), "z".into()]).is_err());
    assert!(s
        .check_covers(&["a/x.rs".into(), "k.fragment".into()])
        .is_ok());
    let tagged = Fragment::parse("k.fragment", "## target: K\n## patch: two\nX\n").unwrap();
    assert_eq!(s.hunk_owner("k.fragment", &tagged.hunks[0]).unwrap(), 1);
    let untagged = Fragment::parse("k.fragment", "## target: K\nX\n").unwrap();
    assert!(s.hunk_owner("k.fragment", &untagged.hunks[0]).is_err());
    let wrong = Fragment::parse("k.fragment", "## target: K\n## patch: six\nX\n").unwrap();
    assert!(s.hunk_owner("k.fragment", &wrong.hunks[0]).is_err());
    let replace = Fragment::parse(
        "k.fragment",
        "## target: K\n## patch: two\n## replace:\nA\n## with:\nB\n",
    )
    .unwrap();
    assert_eq!(s.hunk_owner("k.fragment", &replace.hunks[0]).unwrap(), 1);
    // --without: the left-out patch owns no file, and its hunks fall
    // outside every prefix of the series.
    let w = crate::overlay::Without {
        series: &s,
        skip: vec![1],
    };
    assert_eq!(w.owner("a/x.rs"), Some(0));
    assert_eq!(w.owner("b/y.rs"), None);
    assert_eq!(
        w.hunk_owner("k.fragment", &tagged.hunks[0]).unwrap(),
        usize::MAX
    );
    assert!(w.hunk_owner("k.fragment", &wrong.hunks[0]).is_err());
}

/// [`TWO`] with patch `one` (all of series `fix`) and `three` held.
fn two_held() -> Series {
    Series::parse(&two_held_text()).unwrap()
}

fn two_held_text() -> String {
    TWO.replacen(
        "paths = [\"a/x.rs\", \"d/\"]",
        "paths = [\"a/x.rs\", \"d/\", \"k.fragment\"]\n        hold = \"upstream has it\"",
        1,
    )
    .replacen(
        "paths = [\"b/z.rs\"]",
        "paths = [\"b/z.rs\"]\n        hold = \"declined\"",
        1,
    )
}

#[test]
fn held_patches_are_tested_not_posted() {
    let s = two_held();
    // The tested series has every patch.
    assert_eq!(s.patches.len(), 3);
    assert_eq!(s.owner("a/x.rs"), Some(0));
    let p = s.posted();
    // A series whose every patch is held is not posted, nor based on.
    let ids: Vec<&str> = p.postings.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, ["feat"]);
    assert!(p.postings[0].based_on.is_empty());
    let posted: Vec<&str> = p.patches.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(posted, ["two"]);
    let held: Vec<&str> = p.held.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(held, ["one", "three"]);
    assert_eq!(p.patch_range(0), 0..1);
    // Held files are still carried (by nobody in the posted view), and
    // held hunks fall outside every prefix.
    let files = ["a/x.rs".into(), "b/y.rs".into(), "b/z.rs".into()];
    p.check_covers(&files).unwrap();
    assert_eq!(p.owner("a/x.rs"), None);
    assert_eq!(p.owner("b/z.rs"), None);
    assert_eq!(p.owner("b/y.rs"), Some(0));
    let held_tag = Fragment::parse("m.fragment", "## target: M\n## patch: three\nX\n").unwrap();
    assert_eq!(
        p.hunk_owner("m.fragment", &held_tag.hunks[0]).unwrap(),
        usize::MAX
    );
    let listed = Fragment::parse("k.fragment", "## target: K\nX\n").unwrap();
    assert_eq!(
        p.hunk_owner("k.fragment", &listed.hunks[0]).unwrap(),
        usize::MAX
    );
    let posted_tag = Fragment::parse("k.fragment", "## target: K\n## patch: two\nX\n").unwrap();
    assert_eq!(p.hunk_owner("k.fragment", &posted_tag.hunks[0]).unwrap(), 0);
    // Only the held_variants build the held patches.
    let v = Series::parse(&format!("held_variants = [\"debug\"]\n{}", two_held_text())).unwrap();
    assert_eq!(v.clone().for_variant(Some("debug")).patches.len(), 3);
    assert_eq!(v.clone().for_variant(None).patches.len(), 1);
    assert_eq!(v.for_variant(Some("nonuma")).held.len(), 2);
    // Without a hold, the posted view is the series.
    assert!(two().posted().held.is_empty());
    assert_eq!(two().posted().postings.len(), 2);
}

#[test]
fn postings_stack_in_order() {
    let s = two();
    assert_eq!(s.patch_range(0), 0..1);
    assert_eq!(s.patch_range(1), 1..3);
    assert_eq!((s.posting_of(0), s.posting_of(2)), (0, 1));
    assert_eq!(s.postings[0].subject_prefix, "PATCH");
    assert_eq!(s.postings[0].version, 1);
    assert_eq!(s.subject_tag(0, None), "[PATCH]");
    assert_eq!(s.subject_tag(1, Some((0, 2))), "[PATCH v3 0/2]");
}

/// Each broken variant of [`TWO`] is refused, with the reason.
#[test]
fn inconsistent_series_are_refused() {
    for (from, to, why) in [
        // A patch in a series that does not exist.
        (
            "series = \"feat\"\n        message = \"3\"",
            "series = \"nope\"\n        message = \"3\"",
            "not listed",
        ),
        // Patch ids are unique across all series.
        ("id = \"three\"", "id = \"one\"", "used twice"),
        // Series ids too.
        ("id = \"feat\"", "id = \"fix\"", "used twice"),
        // A series with several patches has a cover letter.
        ("cover_letter = \"c\"\n", "", "no cover_letter"),
        // Based on a later (or unknown) series.
        (
            "based_on = [\"fix\"]",
            "based_on = [\"feat\"]",
            "not a series listed before",
        ),
        // Versions start at 1.
        ("version = 3", "version = 0", "start at 1"),
        // A hold says why.
        (
            "paths = [\"b/z.rs\"]",
            "paths = [\"b/z.rs\"]\n        hold = \" \"",
            "must say why",
        ),
    ] {
        let text = TWO.replacen(from, to, 1);
        assert_ne!(text, TWO, "{from}");
        let err = format!("{:#}", Series::parse(&text).unwrap_err());
        assert!(err.contains(why), "{from} -> {to}: {err}");
    }
    // Patches listed series by series: a fix patch after a feat patch.
    let mixed = format!(
        "{TWO}\n        [[patch]]\n        id = \"four\"\n        series = \"fix\"\n        message = \"4\"\n        paths = []\n"
    );
    let err = format!("{:#}", Series::parse(&mixed).unwrap_err());
    assert!(err.contains("series by series"), "{err}");
    // A series without patches.
    let empty = TWO.replacen(
        "[[patch]]",
        "[[series]]\n        id = \"idle\"\n        [[patch]]",
        1,
    );
    let err = format!("{:#}", Series::parse(&empty).unwrap_err());
    assert!(err.contains("no patch"), "{err}");
}

#[test]
fn identities() {
    let placeholder = Identity::parse("Kmem-rs Developers <kmem-rs@lists.example.org>").unwrap();
    assert_eq!(placeholder.name, "Kmem-rs Developers");
    assert_eq!(placeholder.email, "kmem-rs@lists.example.org");
    assert!(placeholder.not_a_sender(&placeholder).is_some());
    let real = Identity::parse("Jane Doe <jane@kernel.org>").unwrap();
    assert_eq!(real.not_a_sender(&placeholder), None);
    let example = Identity::parse("Jane Doe <jane@mail.example.com>").unwrap();
    assert!(example
        .not_a_sender(&placeholder)
        .unwrap()
        .contains("example address"));
    for bad in [
        "Jane",
        "Jane <>",
        "<jane@kernel.org>",
        "Jane <jane>",
        "Jane <a b@c>",
    ] {
        assert!(Identity::parse(bad).is_err(), "{bad}");
    }
}

/// Every repository fragment applies to its target in the base tree, for
/// every prefix of the series (as `patches` builds each commit), when the
/// imported tree exists; skipped (with a note) when it does not. With
/// `KMEM_RS_FRAGMENT_OUT=DIR`, each target's base and result are written
/// to `DIR/a/TARGET` and `DIR/b/TARGET`, for `git diff --no-index DIR/a DIR/b`.
#[test]
fn repo_fragments_apply_to_base() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cache = std::env::var_os("KMEM_RS_CACHE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|x| !x.is_empty())
                .map(|x| Path::new(&x).join("kmem-rs"))
        })
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/kmem-rs")));
    let Some(src) = cache.map(|c| c.join("src/linux")) else {
        eprintln!("no cache directory: fragments not applied");
        return;
    };
    let tagged = command("git")
        .arg("-C")
        .arg(&src)
        .args([
            "rev-parse",
            "-q",
            "--verify",
            &format!("{BASE_TAG}^{{commit}}"),
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !tagged {
        eprintln!("no {BASE_TAG} in {}: fragments not applied", src.display());
        return;
    }
    let series = Series::load(&root).unwrap();
    let mut by_target: BTreeMap<String, Vec<(String, Fragment)>> = BTreeMap::new();
    for name in overlay_files(&root)
        .unwrap()
        .into_iter()
        .filter(|p| p.ends_with(".fragment"))
    {
        let f = Fragment::parse(&name, &fs::read_to_string(root.join(&name)).unwrap()).unwrap();
        by_target
            .entry(f.target.clone())
            .or_default()
            .push((name, f));
    }
    assert!(!by_target.is_empty());
    for (target, frags) in &by_target {
        let base = base_file_in(&src, target)
            .unwrap()
            .unwrap_or_else(|| panic!("{target} is not in {BASE_TAG}"));
        for upto in 0..=series.patches.len() {
            apply_fragments(&series, upto, &base, frags)
                .unwrap_or_else(|e| panic!("{target} after {upto} patch(es): {e:#}"));
        }
        let full = apply_fragments(&series, series.patches.len(), &base, frags).unwrap();
        // The tree the debug lane's `fixes` suite shows the core fixes on
        // (docs/debug-lane.md): every other patch applies without them.
        let before = crate::overlay::Without {
            series: &series,
            skip: FIXES_SUITE_WITHOUT
                .iter()
                .map(|id| series.patches.iter().position(|p| p.id == *id).unwrap())
                .collect(),
        };
        apply_fragments(&before, series.patches.len(), &base, frags)
            .unwrap_or_else(|e| panic!("{target} without the core fixes: {e:#}"));
        if let Some(out) = std::env::var_os("KMEM_RS_FRAGMENT_OUT") {
            for (side, text) in [("a", &base), ("b", &full)] {
                let dest = Path::new(&out).join(side).join(target);
                fs::create_dir_all(dest.parent().unwrap()).unwrap();
                fs::write(dest, text).unwrap();
            }
        }
        assert_ne!(full, base, "{target}: its fragments change nothing");
    }
}
