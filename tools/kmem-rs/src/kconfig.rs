// SPDX-License-Identifier: GPL-2.0-only
//! Kernel config fragments: parsing, and checking that a generated .config
//! kept every option a fragment asked for.

use std::collections::BTreeMap;

/// `CONFIG_FOO=y` lines and `# CONFIG_FOO is not set` (as `n`) of a fragment
/// or a .config, by option name.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                if name.starts_with("CONFIG_") {
                    out.insert(name.to_string(), "n".to_string());
                }
            }
        } else if line.starts_with("CONFIG_") {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

/// Options of `fragment` whose value did not survive into `dotconfig`, as
/// human-readable `CONFIG_X: wanted y, got n` strings.
pub fn dropped(fragment: &str, dotconfig: &str) -> Vec<String> {
    let got = parse(dotconfig);
    parse(fragment)
        .into_iter()
        .filter_map(|(k, want)| {
            let have = got.get(&k).map_or("n", String::as_str);
            (have != want).then(|| format!("{k}: wanted {want}, got {have}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_set_and_unset() {
        let p = parse("CONFIG_A=y\n# CONFIG_B is not set\n# a comment\nCONFIG_C=\"x\"\n");
        assert_eq!(p["CONFIG_A"], "y");
        assert_eq!(p["CONFIG_B"], "n");
        assert_eq!(p["CONFIG_C"], "\"x\"");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn reports_dropped_options() {
        let frag =
            "CONFIG_RUST=y\nCONFIG_DEV_DAX_KMEM=m\n# CONFIG_NUMA_EMU is not set\nCONFIG_GONE=y\n";
        let dot = "CONFIG_RUST=y\nCONFIG_DEV_DAX_KMEM=y\n# CONFIG_NUMA_EMU is not set\n";
        assert_eq!(
            dropped(frag, dot),
            vec![
                "CONFIG_DEV_DAX_KMEM: wanted m, got y".to_string(),
                "CONFIG_GONE: wanted y, got n".to_string()
            ]
        );
    }

    #[test]
    fn later_fragment_overrides() {
        let merged = "CONFIG_MEMORY_HOTREMOVE=y\n\n# CONFIG_MEMORY_HOTREMOVE is not set\n";
        assert!(dropped(merged, "# CONFIG_MEMORY_HOTREMOVE is not set\n").is_empty());
        assert_eq!(dropped(merged, "CONFIG_MEMORY_HOTREMOVE=y\n").len(), 1);
    }

    /// The nonuma variant, merged over the test config as the build merges
    /// it, turns off NUMA and what olddefconfig would drop with it (the
    /// options only NUMA selects or allows), and keeps memory hotplug.
    #[test]
    fn nonuma_variant_is_consistent() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut merged = std::fs::read_to_string(dir.join("kmem-test.config")).unwrap();
        merged.push('\n');
        merged.push_str(&std::fs::read_to_string(dir.join("nonuma.config")).unwrap());
        let p = parse(&merged);
        for off in [
            "CONFIG_NUMA",
            "CONFIG_NUMA_KEEP_MEMINFO",
            "CONFIG_ACPI_NUMA",
            "CONFIG_X86_64_ACPI_NUMA",
            "CONFIG_NUMA_EMU",
        ] {
            assert_eq!(p[off], "n", "{off}");
        }
        for on in [
            "CONFIG_MEMORY_HOTPLUG",
            "CONFIG_MEMORY_HOTREMOVE",
            "CONFIG_DEV_DAX_KMEM_RUST",
        ] {
            assert_eq!(p[on], "y", "{on}");
        }
    }

    #[test]
    fn repo_test_config_is_well_formed() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/kmem-test.config");
        let text = std::fs::read_to_string(path).unwrap();
        let p = parse(&text);
        for must in [
            "CONFIG_RUST",
            "CONFIG_MEMORY_HOTREMOVE",
            "CONFIG_DEV_DAX_KMEM",
            "CONFIG_NUMA",
        ] {
            assert!(p.contains_key(must), "{must} missing");
        }
        // Every non-comment line is an option: a typo would be silently ignored.
        for line in text.lines().map(str::trim) {
            assert!(
                line.is_empty() || line.starts_with('#') || line.starts_with("CONFIG_"),
                "{line}"
            );
        }
    }
}
