//! zvcc, the gcc-compatible compiler driver of zv (TOOLCHAIN.md section 1): a thin
//! binary over `zvld::driver`. Exit status: gcc's when a compile fails, 1 when the link
//! fails, 2 on a usage error or a missing sysroot.

use std::process::ExitCode;

use zvld::driver::{self, DriverError};

fn main() -> ExitCode {
    zvld::sys::tune_allocator();
    zvld::link::exit_after_link();
    zvld::sys::interrupt::install();
    let args = match zvld::ldopts::utf8_args("zvcc", std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match driver::run(&args) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        // The temporary files are gone (dropped on the way out): end as the signal would
        // have ended zvcc, with no message, as gcc's driver does.
        Err(DriverError::Interrupted(sig)) => zvld::sys::interrupt::die_of(sig),
        Err(e) => {
            eprintln!("zvcc: error: {e}");
            match e {
                DriverError::Link(_) | DriverError::Tool(..) => ExitCode::from(1),
                _ => ExitCode::from(2),
            }
        }
    }
}
