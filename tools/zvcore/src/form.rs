//! The constants of the ZV64 form (FORM.md section 2) and the six-call ABI (RUNTIME.md
//! section 3), in one place. Every other module and crate takes these values from here.

/// Form version written in the `ZV` note and accepted by this verifier.
pub const FORM_VERSION: u32 = 1;
/// Bundle size in bytes: instructions never cross a multiple of this.
pub const BUNDLE: u64 = 32;
/// Mask that rounds an address down to its bundle start.
pub const BUNDLE_MASK: u64 = !(BUNDLE - 1);
/// End of the never-mapped null guard, [0, NULL_GUARD_END).
pub const NULL_GUARD_END: u64 = 0x1_0000;
/// Start of the trampoline page(s), R+X, written by the runtime.
pub const TRAMPOLINE_START: u64 = 0x1_0000;
/// End of the trampoline area.
pub const TRAMPOLINE_END: u64 = 0x2_0000;
/// The trap entry: slot 0 of the trampoline.
pub const TRAP_ENTRY: u64 = TRAMPOLINE_START;
/// First byte of guest code.
pub const CODE_START: u64 = 0x2_0000;
/// All executable guest memory lies below this address (2 GiB).
pub const CODE_LIMIT: u64 = 0x8000_0000;
/// Start of the guest stack.
pub const STACK_START: u64 = 0xFF00_0000;
/// Size of the guest stack (16 MiB).
pub const STACK_SIZE: u64 = GUEST_END - STACK_START;
/// Guest address of the u32 that holds the address of the user manifest.
pub const MANIFEST_PTR: u64 = 0xFEFF_FFFC;
/// End of guest memory (4 GiB).
pub const GUEST_END: u64 = 0x1_0000_0000;
/// End of the guard region [GUEST_END, GUARD_END) that the runtime keeps unmapped (8 GiB).
pub const GUARD_END: u64 = 0x2_0000_0000;
/// Page size used for segment alignment.
pub const PAGE: u64 = 0x1000;
/// Granule of the heap and of Jail/Unjail regions (64 KiB).
pub const JAIL_GRANULE: u64 = 0x1_0000;
/// The HLT opcode that fills the code sled and the trampoline.
pub const HLT: u8 = 0xF4;
/// Minimum length of the HLT sled at the end of the code region.
pub const HLT_SLED_MIN: u64 = BUNDLE;

/// Exact bytes of the first instruction of pseudo-instruction P2,
/// `andq $0x7fffffe0,(%rsp)`.
pub const P2_MASK_BYTES: [u8; 8] = [0x48, 0x81, 0x24, 0x24, 0xE0, 0xFF, 0xFF, 0x7F];
/// The immediate of P1's `and`: -32 as a sign-extended byte.
pub const P1_MASK_IMM8: u8 = 0xE0;

/// Name of the ELF note owner that carries the form version.
pub const NOTE_NAME: &[u8] = b"ZV";
/// Type of the form-version note.
pub const NOTE_TYPE_FORM: u32 = 1;

/// Identifiers of the six calls: four ASCII bytes read as a little-endian u32.
pub mod call {
    /// Read from a channel.
    pub const READ: u32 = u32::from_le_bytes(*b"Read");
    /// Write to a channel.
    pub const WRITE: u32 = u32::from_le_bytes(*b"Writ");
    /// Make a verified heap region executable.
    pub const JAIL: u32 = u32::from_le_bytes(*b"Jail");
    /// Make a jailed region writable again. RUNTIME.md spells the id "Unja" but gives
    /// the value 0x6c6a6e55, which is ZeroVM's (its bytes read "Unjl"); the value is what
    /// binaries use, so zv follows it (see docs/DESIGN-NOTES.md).
    pub const UNJAIL: u32 = 0x6c6a_6e55;
    /// The id RUNTIME.md's spelling "Unja" gives (0x616a6e55). zvrun accepts it as Unjail
    /// too, so a guest written from either half of the table works; zrt sends
    /// [`UNJAIL`].
    pub const UNJAIL_AS_SPELLED: u32 = u32::from_le_bytes(*b"Unja");
    /// End the session.
    pub const EXIT: u32 = u32::from_le_bytes(*b"Exit");
    /// Daemon-mode fork.
    pub const FORK: u32 = u32::from_le_bytes(*b"Fork");
}

/// Rule ids of FORM.md section 3, plus `ELF` for a file that is not a well-formed nexe
/// (RUNTIME.md section 1), which is not a form rule but is reported the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// The file is not a well-formed nexe (RUNTIME.md section 1).
    Elf,
    /// C1 Code region.
    C1,
    /// C2 Bundles.
    C2,
    /// C3 Allow-list.
    C3,
    /// C4 Prefixes.
    C4,
    /// C5 Memory operands (forms M1, M2, M3).
    C5,
    /// C6 Stack pointer.
    C6,
    /// C7 Direct branches.
    C7,
    /// C8 Call alignment.
    C8,
    /// C9 Pseudo-instructions (P1, P2).
    C9,
    /// C10 Executable memory.
    C10,
}

impl Rule {
    /// Every rule, in document order.
    pub const ALL: [Rule; 11] = [
        Rule::Elf,
        Rule::C1,
        Rule::C2,
        Rule::C3,
        Rule::C4,
        Rule::C5,
        Rule::C6,
        Rule::C7,
        Rule::C8,
        Rule::C9,
        Rule::C10,
    ];

    /// The id exactly as written in FORM.md.
    pub fn id(self) -> &'static str {
        match self {
            Rule::Elf => "ELF",
            Rule::C1 => "C1",
            Rule::C2 => "C2",
            Rule::C3 => "C3",
            Rule::C4 => "C4",
            Rule::C5 => "C5",
            Rule::C6 => "C6",
            Rule::C7 => "C7",
            Rule::C8 => "C8",
            Rule::C9 => "C9",
            Rule::C10 => "C10",
        }
    }

    /// The rule's title in FORM.md.
    pub fn title(self) -> &'static str {
        match self {
            Rule::Elf => "Nexe structure",
            Rule::C1 => "Code region",
            Rule::C2 => "Bundles",
            Rule::C3 => "Allow-list",
            Rule::C4 => "Prefixes",
            Rule::C5 => "Memory operands",
            Rule::C6 => "Stack pointer",
            Rule::C7 => "Direct branches",
            Rule::C8 => "Call alignment",
            Rule::C9 => "Pseudo-instructions",
            Rule::C10 => "Executable memory",
        }
    }

    /// Parses an id as written in FORM.md (`C1`..`C10`, `ELF`).
    pub fn from_id(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == s)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

const _: () = assert!(CODE_START >= TRAMPOLINE_END, "code starts after the trampoline");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_match_runtime_md() {
        assert_eq!(call::READ, 0x6461_6552);
        assert_eq!(call::WRITE, 0x7469_7257);
        assert_eq!(call::JAIL, 0x6c69_614a);
        assert_eq!(call::UNJAIL, 0x6c6a_6e55);
        assert_eq!(call::EXIT, 0x7469_7845);
        assert_eq!(call::FORK, 0x6b72_6f46);
    }

    #[test]
    fn rule_ids_round_trip() {
        for r in Rule::ALL {
            assert_eq!(Rule::from_id(r.id()), Some(r));
        }
        assert_eq!(Rule::from_id("C11"), None);
    }

    #[test]
    fn layout_is_consistent() {
        assert_eq!(STACK_SIZE, 16 << 20);
        assert_eq!(GUARD_END, 2 * GUEST_END);
        assert_eq!(MANIFEST_PTR + 4, STACK_START);
    }
}
