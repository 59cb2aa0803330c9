#![no_main]

//! The rules-file loader on YAML inputs. Seed it with real rules files split into items (see
//! rules/fuzz/seed-loader.sh) so that mutations start from lists, macros, rules, exceptions,
//! append and override rather than from nothing.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = lanner_rules::load_str("fuzz.yaml", s, lanner_rules::LoadOptions::new());
        let _ = lanner_rules::load_str(
            "fuzz.yaml",
            s,
            lanner_rules::LoadOptions::new().strict(true),
        );
        // The same file loaded twice: every item appends to or overrides its first copy.
        let mut loader = lanner_rules::Loader::new(lanner_rules::LoadOptions::new());
        if loader.load_str("a.yaml", s).is_ok() && loader.load_str("b.yaml", s).is_ok() {
            let _ = loader.compile();
        }
    }
});
