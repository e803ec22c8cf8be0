//! Names of iced-x86's mnemonics, registers and CPUID features for diagnostics, as iced's
//! `Debug` spells them (mnemonics and registers in lower case). The tables are generated
//! by `build.rs` from iced itself, as one string and a table of end offsets each: no
//! pointers, so a position-independent runtime has nothing to relocate in them at start-up
//! (iced's `Debug` tables are ~2,500 `&str`s, relocated and copied at every zvrun start).

use iced_x86::{CpuidFeature, Mnemonic, Register};

include!(concat!(env!("OUT_DIR"), "/names.rs"));

fn lookup(text: &'static str, ends: &[u16], i: usize) -> &'static str {
    let Some(&end) = ends.get(i) else { return "?" };
    let start = i.checked_sub(1).and_then(|j| ends.get(j)).map_or(0, |&e| usize::from(e));
    text.get(start..usize::from(end)).unwrap_or("?")
}

/// `mov`, `vpxor`, ...
pub fn mnemonic(m: Mnemonic) -> &'static str {
    lookup(MNEMONIC_TEXT, &MNEMONIC_ENDS, m as usize)
}

/// `rax`, `xmm0`, `cr0`, ...
pub fn register(r: Register) -> &'static str {
    lookup(REGISTER_TEXT, &REGISTER_ENDS, r as usize)
}

/// `AVX2`, `INTEL386`, ...
pub fn cpuid_feature(f: CpuidFeature) -> &'static str {
    lookup(CPUID_FEATURE_TEXT, &CPUID_FEATURE_ENDS, f as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_the_debug_name() {
        for m in Mnemonic::values() {
            assert_eq!(mnemonic(m), format!("{m:?}").to_ascii_lowercase());
        }
        for r in Register::values() {
            assert_eq!(register(r), format!("{r:?}").to_ascii_lowercase());
        }
        for f in CpuidFeature::values() {
            assert_eq!(cpuid_feature(f), format!("{f:?}"));
        }
        assert_eq!(mnemonic(Mnemonic::Cpuid), "cpuid");
        assert_eq!(register(Register::R11), "r11");
        assert_eq!(cpuid_feature(CpuidFeature::AVX2), "AVX2");
    }
}
