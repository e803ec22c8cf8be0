//! zvpack: builds, inspects and checks image tars. Not implemented yet: until its issue
//! lands it exits with status 2 and says so.

fn main() {
    eprintln!(
        "zvpack: not implemented yet (zv form version {})",
        zvcore::form::FORM_VERSION
    );
    std::process::exit(2);
}
