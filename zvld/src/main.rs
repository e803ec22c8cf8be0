//! zvld: the rewriting linker (TOOLCHAIN.md section 2). Not implemented yet: until its
//! issue lands it exits with status 2 and says so, rather than pretending to link.

fn main() {
    eprintln!(
        "zvld: not implemented yet (zv form version {}); see TOOLCHAIN.md",
        zvcore::form::FORM_VERSION
    );
    std::process::exit(2);
}
