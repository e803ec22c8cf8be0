//! The errors of a link, typed and carrying the context a user needs to act: which input
//! (object, archive member), which section, which function and offset, which symbol, and
//! what to do about it. The binaries print them with `Display`; tests match on variants.

use std::fmt;

/// Where in the inputs something is: an object (or archive member), a section, and an
/// offset in that section, with the enclosing function when one is known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// The object, as `path` or `archive.a(member.o)`.
    pub object: String,
    /// The section name.
    pub section: String,
    /// Offset in the section.
    pub offset: u64,
    /// The function symbol containing the offset, with the offset from its start.
    pub function: Option<(String, u64)>,
    /// The section holds data, so `function` names a data object (shown as `in NAME`,
    /// not `in function NAME`).
    pub in_data: bool,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.section.is_empty() {
            // Not a place in an object (the command line, a rewrite): just what it is.
            write!(f, "{}", self.object)?;
        } else {
            write!(f, "{}({}+{:#x})", self.object, self.section, self.offset)?;
        }
        if let Some((name, off)) = &self.function {
            let what = if self.in_data { "" } else { "function " };
            write!(f, " in {what}{name}+{off:#x}")?;
        }
        Ok(())
    }
}

/// Everything that can stop a link.
#[derive(Debug)]
pub enum LinkError {
    /// An input file could not be read.
    Io {
        /// The path.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The output (or the map file) could not be written.
    Write {
        /// The path.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// An input is not an ELF64 x86-64 relocatable object or an `ar` archive.
    BadInput {
        /// The input.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// A `-l` library was not found on the search path.
    LibraryNotFound {
        /// The library name as given to `-l`.
        name: String,
        /// The directories searched.
        searched: Vec<String>,
        /// A shared library of that name found there (which a static nexe cannot use).
        shared_only: Option<String>,
    },
    /// Symbols that no input defines.
    Undefined {
        /// Each undefined symbol with the first place that references it.
        symbols: Vec<(String, Location)>,
        /// Archives that hold GCC LTO bytecode members (`-flto` without
        /// `-ffat-lto-objects`) or LLVM bitcode members, whose symbols zvld cannot see.
        lto_archives: Vec<String>,
    },
    /// Two strong definitions of one symbol.
    Duplicate {
        /// The symbol.
        symbol: String,
        /// The first definition: object, section and offset.
        first: Location,
        /// The second definition.
        second: Location,
    },
    /// A relocation type zvld does not handle.
    UnsupportedRelocation {
        /// The relocation's place.
        at: Location,
        /// The ELF relocation type name or number.
        kind: String,
        /// The symbol it refers to.
        symbol: String,
        /// What to do.
        hint: String,
    },
    /// A kept section refers to a section of a COMDAT group whose copy in this object was
    /// discarded (another object's copy of the group was kept).
    Discarded {
        /// The relocation's place.
        at: Location,
        /// The symbol the relocation names (the section's name for a section symbol).
        symbol: String,
        /// The discarded section, as `object(section)`.
        section: String,
        /// The group's signature.
        group: String,
    },
    /// A relocated value does not fit its field.
    Overflow {
        /// The relocation's place.
        at: Location,
        /// The relocation type.
        kind: String,
        /// The symbol.
        symbol: String,
        /// The value that did not fit.
        value: i64,
    },
    /// Code zvld cannot rewrite into the form: a forbidden instruction, data in code, PIC
    /// that cannot be recognised, r11 needed where it is live.
    Rewrite {
        /// Where.
        at: Location,
        /// The instruction text, when there is one.
        instruction: String,
        /// Why it cannot be rewritten.
        reason: String,
        /// What to do.
        hint: String,
    },
    /// The output failed the verifier; zvld refused to write it.
    Verify {
        /// One line per violation: rule, address, instruction, reason and input location.
        violations: Vec<String>,
        /// Total number of violations.
        count: usize,
    },
    /// The image does not fit the address space of the form.
    Layout {
        /// What does not fit.
        reason: String,
    },
    /// A command-line error.
    Usage(String),
    /// Several errors of one phase (every instruction that cannot be rewritten, in input
    /// order), reported together like undefined symbols.
    Several(Vec<LinkError>),
    /// Errors of one kind past the number listed: counted, not shown.
    Omitted {
        /// How many.
        count: usize,
        /// Of what kind, and where.
        what: String,
    },
}

impl LinkError {
    /// One error for `errors` (at least one): the error itself when there is one.
    pub fn combine(mut errors: Vec<LinkError>) -> LinkError {
        let mut flat = Vec::with_capacity(errors.len());
        for e in errors.drain(..) {
            match e {
                LinkError::Several(v) => flat.extend(v),
                e => flat.push(e),
            }
        }
        // Undefined symbols are one list, each symbol once with its first place, however
        // many relocations reached them (an audit found one block per reference of the
        // `__zv_syscall` that zvld's own rewrites call, each with the same advice). The
        // list stands where the first of them stood.
        if let Some(first) = flat.iter().position(|e| matches!(e, LinkError::Undefined { .. })) {
            let (mut symbols, mut archives): (Vec<(String, Location)>, Vec<String>) = (Vec::new(), Vec::new());
            let mut kept = Vec::with_capacity(flat.len());
            for e in flat {
                let LinkError::Undefined { symbols: s, lto_archives: a } = e else {
                    kept.push(e);
                    continue;
                };
                for (name, at) in s {
                    if !symbols.iter().any(|(n, _)| *n == name) {
                        symbols.push((name, at));
                    }
                }
                for x in a {
                    if !archives.contains(&x) {
                        archives.push(x);
                    }
                }
            }
            kept.insert(first, LinkError::Undefined { symbols, lto_archives: archives });
            flat = kept;
        }
        if flat.len() == 1 {
            flat.pop().unwrap_or(LinkError::Usage(String::new()))
        } else {
            LinkError::Several(flat)
        }
    }

    /// Collects `results` in order: every value, or every error (combined).
    pub fn collect<T>(results: impl IntoIterator<Item = Result<T>>) -> Result<Vec<T>> {
        let mut ok = Vec::new();
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(v) => ok.push(v),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(ok)
        } else {
            Err(LinkError::combine(errors))
        }
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Io { path, error } => write!(f, "cannot read {path}: {error}"),
            LinkError::Write { path, error } => write!(f, "cannot write {path}: {error}"),
            LinkError::BadInput { object, reason } => write!(f, "{object}: {reason}"),
            LinkError::LibraryNotFound { name, shared_only: Some(so), .. } => write!(
                f,
                "cannot find -l{name}: only the shared library {so} is there, and a nexe links static archives \
                 (lib{name}.a); build or install the static library"
            ),
            LinkError::LibraryNotFound { name, searched, shared_only: None } => {
                if searched.is_empty() {
                    write!(f, "cannot find -l{name} (no library directory was given); add its directory with -L")
                } else {
                    write!(f, "cannot find -l{name} (searched: {}); add its directory with -L", searched.join(", "))
                }
            }
            LinkError::Undefined { symbols, lto_archives } => {
                write!(f, "{} undefined symbol(s):", symbols.len())?;
                for (s, at) in symbols {
                    write!(f, "\n  undefined symbol `{s}`, referenced from {at}")?;
                }
                // Runtimes that compiler options pull in and that zv does not provide.
                const RUNTIMES: [(&str, &str); 5] = [
                    ("__asan_", "AddressSanitizer's runtime (-fsanitize=address)"),
                    ("__ubsan_", "UndefinedBehaviorSanitizer's runtime (-fsanitize=undefined)"),
                    ("__tsan_", "ThreadSanitizer's runtime (-fsanitize=thread)"),
                    ("GOMP_", "libgomp, OpenMP's runtime (-fopenmp: a guest has one thread)"),
                    ("mcount", "gprof's profiling runtime (-pg)"),
                ];
                for (prefix, what) in RUNTIMES {
                    if symbols.iter().any(|(s, _)| s.starts_with(prefix)) {
                        write!(
                            f,
                            "\n  ({prefix}* belong to {what}, which zv does not provide: build without that option)"
                        )?;
                    }
                }
                if symbols.iter().any(|(s, _)| s == "_TLS_MODULE_BASE_") {
                    write!(
                        f,
                        "\n  (_TLS_MODULE_BASE_ is the base that TLS descriptors refer to (-mtls-dialect=gnu2), which \
                         zvld does not support: compile without it, or with zvcc (-fno-pic), which uses local-exec and \
                         initial-exec TLS)"
                    )?;
                }
                if symbols.iter().any(|(s, _)| s.starts_with("__zv_")) {
                    write!(
                        f,
                        "\n  (__zv_* are zrt's, which zvld's rewrites call: link the sysroot's libzrt.a; zvcc adds \
                         it unless -nostdlib)"
                    )?;
                }
                for a in lto_archives {
                    write!(
                        f,
                        "\n  ({a} holds LTO objects (GCC LTO bytecode, -flto without -ffat-lto-objects, or LLVM \
                         bitcode from clang -flto), whose symbols zvld cannot see: rebuild them without -flto, or \
                         for GCC with -ffat-lto-objects)"
                    )?;
                }
                write!(f, "\n  (add the object or library that defines it, e.g. with -l)")
            }
            LinkError::Duplicate { symbol, first, second } => write!(
                f,
                "duplicate definition of `{symbol}`: in {first} and in {second} (make one of them static or weak)"
            ),
            // A relocation against an unnamed absolute symbol names no symbol.
            LinkError::UnsupportedRelocation { at, kind, symbol, hint } if symbol.is_empty() => {
                write!(f, "unsupported relocation {kind} at {at}: {hint}")
            }
            LinkError::UnsupportedRelocation { at, kind, symbol, hint } => {
                write!(f, "unsupported relocation {kind} against `{symbol}` at {at}: {hint}")
            }
            LinkError::Discarded { at, symbol, section, group } => write!(
                f,
                "`{symbol}` referenced from {at} is defined in discarded section {section} of COMDAT group \
                 `{group}` (an earlier object's copy of the group was kept); refer to the group's global \
                 symbols, not to its local labels or sections"
            ),
            LinkError::Overflow { at, kind, symbol, value } => {
                write!(
                    f,
                    "relocation {kind} against `{symbol}` at {at} overflows its field (value {value:#x}); the \
                     value does not fit the field's width: check the symbol's address and the addend (a nexe's \
                     addresses lie below 4 GiB, so a 32-bit absolute field holds them, but not an addend that \
                     pushes them past it; a PC-relative field reaches +-2 GiB)"
                )
            }
            LinkError::Rewrite { at, instruction, reason, hint } => {
                write!(f, "cannot rewrite {at}")?;
                if !instruction.is_empty() {
                    write!(f, " `{instruction}`")?;
                }
                write!(f, ": {reason}")?;
                if !hint.is_empty() {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
            LinkError::Verify { violations, count } => {
                write!(
                    f,
                    "the output fails verification ({count} violation(s)); zvld did not write it (this is a zvld bug or an input it mis-rewrote):"
                )?;
                for v in violations {
                    write!(f, "\n  {v}")?;
                }
                Ok(())
            }
            LinkError::Layout { reason } => write!(f, "layout: {reason}"),
            LinkError::Usage(s) => write!(f, "{s}"),
            LinkError::Omitted { count, what } => write!(f, "... and {count} more {what}, not listed"),
            LinkError::Several(v) => {
                let count: usize =
                    v.iter().map(|e| if let LinkError::Omitted { count, .. } = e { *count } else { 1 }).sum();
                write!(f, "{count} errors:")?;
                for e in v {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LinkError {}

/// The result type of every phase.
pub type Result<T> = std::result::Result<T, LinkError>;
