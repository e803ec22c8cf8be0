//! zvcc, the gcc-compatible compiler driver of zv (TOOLCHAIN.md section 1): a thin
//! binary over `zvld::driver`. Exit status: gcc's when a compile fails, and 1 for any
//! error of zvcc's own (a usage error, a failed link, a missing sysroot), as gcc's driver
//! exits 1 for its own errors. Its messages to a closed standard error are dropped.

use std::process::ExitCode;

use zvld::driver::{self, message, DriverError};

fn main() -> ExitCode {
    zvld::sys::tune_allocator();
    zvld::link::exit_after_link();
    zvld::sys::interrupt::install();
    let args = match zvld::ldopts::utf8_args("zvcc", std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            message(msg);
            return ExitCode::from(1);
        }
    };
    match driver::run(&args) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        // The temporary files are gone (dropped on the way out): end as the signal would
        // have ended zvcc, with no message, as gcc's driver does.
        Err(DriverError::Interrupted(sig)) => zvld::sys::interrupt::die_of(sig),
        Err(e) => {
            message(format_args!("zvcc: error: {e}"));
            ExitCode::from(1)
        }
    }
}
