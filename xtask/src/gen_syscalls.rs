//! `cargo xtask gen-syscalls [--check]`: writes `common/src/syscalls/generated.rs`.
//!
//! Sources: the uapi headers of the installed `linux-libc-dev` (`asm/unistd_64.h`,
//! `asm/unistd_32.h`), plus `xtask/data/syscalls-newer.txt` for calls newer than those headers,
//! plus `xtask/data/i386-twins.txt` which maps i386 names onto their x86_64 twins.
//!
//! The canonical syscall id space: an x86_64 syscall's id is its x86_64 number; an i386-only
//! syscall gets an id from `I386_ONLY_BASE` upwards, in name order, so ids are stable across
//! regenerations as long as no name is removed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const DEFAULT_HEADERS: &str = "/usr/include/x86_64-linux-gnu/asm";
const I386_ONLY_BASE: u16 = 512;
const ID_SPACE: u16 = 1024;
const ABI_TABLE_LEN: u16 = 512;

#[derive(clap::Args)]
pub struct Args {
    /// Compare with the committed file instead of writing it; fails if they differ.
    #[arg(long)]
    check: bool,
    /// Folder holding unistd_64.h and unistd_32.h.
    #[arg(long, default_value = DEFAULT_HEADERS)]
    headers: PathBuf,
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    let mut x86_64 = parse_header(&args.headers.join("unistd_64.h"))?;
    let mut i386 = parse_header(&args.headers.join("unistd_32.h"))?;
    let newer = root.join("xtask/data/syscalls-newer.txt");
    for (line_no, fields) in data_lines(&newer)? {
        let [abi, nr, name] = &fields[..] else {
            bail!(
                "{}:{line_no}: expected `<abi> <number> <name>`",
                newer.display()
            );
        };
        let nr: u16 = nr
            .parse()
            .with_context(|| format!("{}:{line_no}: bad number {nr:?}", newer.display()))?;
        let table = match abi.as_str() {
            "x86_64" => &mut x86_64,
            "i386" => &mut i386,
            other => bail!("{}:{line_no}: unknown abi {other:?}", newer.display()),
        };
        // The headers win where they already know the call; the supplement only fills gaps.
        table.entry(nr).or_insert_with(|| name.to_string());
    }
    let twins_path = root.join("xtask/data/i386-twins.txt");
    let mut twins = BTreeMap::new();
    for (line_no, fields) in data_lines(&twins_path)? {
        let [i386_name, x86_64_name] = &fields[..] else {
            bail!(
                "{}:{line_no}: expected `<i386 name> <x86_64 name>`",
                twins_path.display()
            );
        };
        twins.insert(i386_name.to_string(), x86_64_name.to_string());
    }
    let text = render(&x86_64, &i386, &twins)?;
    let out = root.join("common/src/syscalls/generated.rs");
    if args.check {
        let current =
            fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
        if current != text {
            bail!(
                "{} is out of date: run `cargo xtask gen-syscalls` and commit the result",
                out.display()
            );
        }
        println!("{} is up to date", out.display());
    } else {
        fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// Parses `#define __NR_<name> <number>` lines.
fn parse_header(path: &Path) -> Result<BTreeMap<u16, String>> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading {} (is linux-libc-dev installed?)", path.display()))?;
    let mut table = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("#define") {
            continue;
        }
        let (Some(symbol), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(name) = symbol.strip_prefix("__NR_") else {
            continue;
        };
        let Ok(nr) = value.parse::<u16>() else {
            continue;
        };
        table.insert(nr, name.to_string());
    }
    if table.is_empty() {
        bail!("{}: no __NR_ definitions found", path.display());
    }
    Ok(table)
}

/// Non-empty, non-comment lines of a data file, split on whitespace, with 1-based line numbers.
fn data_lines(path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(i, line)| (i, line.split_whitespace().map(str::to_string).collect()))
        .collect())
}

fn render(
    x86_64: &BTreeMap<u16, String>,
    i386: &BTreeMap<u16, String>,
    twins: &BTreeMap<String, String>,
) -> Result<String> {
    let mut names: BTreeMap<u16, String> = BTreeMap::new();
    let mut id_of: BTreeMap<String, u16> = BTreeMap::new();
    for (&nr, name) in x86_64 {
        if nr >= I386_ONLY_BASE {
            bail!("x86_64 syscall {name} ({nr}) collides with the i386-only id range");
        }
        names.insert(nr, name.clone());
        id_of.insert(name.clone(), nr);
    }
    for (i386_name, x86_64_name) in twins {
        if !i386.values().any(|n| n == i386_name) {
            bail!("i386-twins.txt: {i386_name} is not an i386 syscall");
        }
        if !id_of.contains_key(x86_64_name) {
            bail!("i386-twins.txt: {x86_64_name} is not an x86_64 syscall");
        }
    }
    let only_i386: BTreeSet<&String> = i386
        .values()
        .filter(|name| !id_of.contains_key(*name) && !twins.contains_key(*name))
        .collect();
    for (next, name) in (I386_ONLY_BASE..).zip(only_i386) {
        if next >= ID_SPACE {
            bail!("too many i386-only syscalls for the id space");
        }
        names.insert(next, name.clone());
        id_of.insert(name.clone(), next);
    }

    let mut out = String::new();
    out.push_str(
        "// @generated by `cargo xtask gen-syscalls` — do not edit.\n\
         // Sources: linux-libc-dev asm/unistd_64.h and asm/unistd_32.h,\n\
         // xtask/data/syscalls-newer.txt, xtask/data/i386-twins.txt.\n\n",
    );
    out.push_str(&format!(
        "/// Size of the canonical id space.\npub const ID_SPACE: usize = {ID_SPACE};\n\
         /// First id given to syscalls that only the i386 ABI has.\npub const I386_ONLY_BASE: u16 = {I386_ONLY_BASE};\n\
         /// Length of the per-ABI number tables.\npub const ABI_TABLE_LEN: usize = {ABI_TABLE_LEN};\n\
         /// Marks a number that no syscall has.\npub const NONE: u16 = u16::MAX;\n\n"
    ));
    out.push_str(
        "/// Canonical syscall names, sorted by id.\npub const NAMES: &[(u16, &str)] = &[\n",
    );
    for (id, name) in &names {
        out.push_str(&format!("    ({id}, \"{name}\"),\n"));
    }
    out.push_str("];\n\n");
    for (label, table) in [("X86_64", x86_64), ("I386", i386)] {
        out.push_str(&format!(
            "/// {label} syscall number to canonical id (`NONE` where unassigned).\n\
             pub const {label}_TO_ID: [u16; ABI_TABLE_LEN] = [\n"
        ));
        let mut row = Vec::new();
        for nr in 0..ABI_TABLE_LEN {
            let id = match table.get(&nr) {
                Some(name) => {
                    let canonical = twins.get(name).filter(|_| label == "I386").unwrap_or(name);
                    id_of[canonical].to_string()
                }
                None => "NONE".to_string(),
            };
            row.push(id);
            if row.len() == 16 {
                out.push_str(&format!("    {},\n", row.join(", ")));
                row.clear();
            }
        }
        out.push_str("];\n\n");
        if let Some((&nr, name)) = table.iter().find(|(&nr, _)| nr >= ABI_TABLE_LEN) {
            bail!("{label} syscall {name} ({nr}) beyond the table length");
        }
    }
    Ok(out)
}
