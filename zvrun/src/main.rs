//! zvrun: the runtime (RUNTIME.md). Not implemented yet: until its issue lands it exits
//! with status 125 ("could not run the session", RUNTIME.md section 6) and says so.

fn main() {
    eprintln!(
        "zvrun: not implemented yet (zv form version {}); see RUNTIME.md",
        zvcore::form::FORM_VERSION
    );
    std::process::exit(125);
}
