//! lanner's rule language: Falco-compatible YAML rules loaded, parsed, compiled into evaluation
//! trees, reduced to the set of event types they can match (the interest set the drivers
//! install in the kernel), and evaluated against an abstract [`FieldSource`].
//!
//! ```no_run
//! use lanner_rules::{LoadOptions, Loader};
//! # fn main() -> Result<(), lanner_rules::Error> {
//! let mut loader = Loader::new(LoadOptions::new());
//! loader.load_file(std::path::Path::new("falco_rules.yaml"))?;
//! let ruleset = loader.compile()?;
//! print!("{}", ruleset.summary());
//! let syscalls = ruleset.syscalls(); // hand to the driver
//! # let _ = syscalls; Ok(()) }
//! ```
//!
//! Per event, the engine calls [`Ruleset::matching`] with the event's [`EventCode`] and a
//! [`FieldSource`] over its state; only rules whose interest set holds the event's type are
//! evaluated.
//!
//! Modules, one job each: `yaml` (YAML with positions), `loader` (items, append/override),
//! `lexer` and `parser` (conditions to `ast`), `fields` (the field table), `compile` (macros,
//! lists, types), `interest` (event types a condition can match), `results` and `paths` (the
//! results and open paths a driver may leave out), `eval` (evaluation),
//! `output` (templates), `ruleset` (the compiled whole), `error`.

mod ast;
mod compile;
pub mod error;
pub mod eval;
pub mod events;
pub mod fields;
mod glob;
mod interest;
mod lexer;
mod loader;
pub mod output;
mod parser;
mod paths;
mod results;
pub mod ruleset;
#[cfg(test)]
mod test_support;
mod yaml;

pub use error::{Error, ItemKind, ItemRef, Pos, Warning};
pub use eval::{FieldArg, FieldSource, Memo, Value};
pub use events::{event_type_by_name, EventCode, EventSet, NonSyscall};
pub use fields::{ArgKind, FieldId, FieldInfo, FieldKind, FieldType, StateNeeds, FIELDS};
pub use loader::{LoadOptions, Loader};
pub use output::{OutputField, OutputTemplate};
pub use parser::check_syntax;
pub use ruleset::{CompiledRule, LoadSummary, Priority, RuleIdx, Ruleset};

/// Loads rules files in order and compiles them.
pub fn load_files<P: AsRef<std::path::Path>>(
    paths: &[P],
    opts: LoadOptions,
) -> Result<Ruleset, Error> {
    let mut loader = Loader::new(opts);
    for p in paths {
        loader.load_file(p.as_ref())?;
    }
    loader.compile()
}

/// Loads rules from one string and compiles them (`name` is used in positions).
pub fn load_str(name: &str, content: &str, opts: LoadOptions) -> Result<Ruleset, Error> {
    let mut loader = Loader::new(opts);
    loader.load_str(name, content)?;
    loader.compile()
}
