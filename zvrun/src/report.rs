//! Session reports (RUNTIME.md section 6): a JSON object, or ZeroVM's six-line text
//! report.

use serde_json::json;

use crate::session::{Ending, Outcome};

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}

/// What zvrun says on stderr when a session ends: nothing after the guest's Exit, nor
/// after a write to a closed pipe (a native program killed by SIGPIPE is silent too, and
/// `zvrun prog | head` is no error); else [`describe`].
pub fn stderr_message(o: &Outcome) -> String {
    match o.ending {
        Ending::Exit(_) | Ending::Killed(libc::SIGPIPE) => String::new(),
        _ => describe(o),
    }
}

/// One-line description of how the session ended (also used on stderr).
pub fn describe(o: &Outcome) -> String {
    match &o.ending {
        Ending::Exit(c) => format!("exit {c}"),
        Ending::Timeout => "timeout".into(),
        Ending::Killed(libc::SIGPIPE) => {
            format!("killed by SIGPIPE ({}): a channel's pipe was closed by its reader", libc::SIGPIPE)
        }
        Ending::Killed(signal) => format!("killed by {} ({signal})", signal_name(*signal)),
        Ending::Fault { signal, addr, pc } => {
            format!("guest fault: {} ({signal}) at pc {pc:#x}, address {addr:#x}", signal_name(*signal))
        }
        // What a session could not do can quote a manifest or an image (aliases, host
        // paths, the program's name): control characters are escaped, newlines too, so
        // that a name cannot add lines to the report (audit finding: a program named
        // "x\nexit state = ok" forged lines of ZeroVM's six-line report).
        Ending::Invalid(m) => format!("validation failed: {}", zvcore::display::escape_controls(m)),
        Ending::Error(m) => format!("error: {}", zvcore::display::escape_controls(m)),
    }
}

/// Whether the program was verified, in ZeroVM's numbering: 0 validated, 1 rejected,
/// 2 not validated (its initial state: the session ended before verification). The JSON
/// report spells the same three "ok", "failed", "not run".
fn validation(o: &Outcome) -> u8 {
    match (&o.ending, o.code_bytes) {
        (Ending::Invalid(_), _) => 1,
        (_, 0) => 2,
        _ => 0,
    }
}

/// [`validation`]'s values as the JSON report spells them.
const VALIDATION_NAMES: [&str; 3] = ["ok", "failed", "not run"];

/// The JSON report.
pub fn json(o: &Outcome) -> String {
    let (state, exit_code, fault) = match &o.ending {
        Ending::Exit(c) => ("exit", Some(*c), None),
        Ending::Timeout => ("timeout", None, None),
        Ending::Killed(_) => ("killed", None, None),
        Ending::Fault { signal, addr, pc } => (
            "fault",
            None,
            Some(
                json!({ "signal": signal, "name": signal_name(*signal), "pc": format!("{pc:#x}"), "address": format!("{addr:#x}") }),
            ),
        ),
        Ending::Invalid(_) => ("invalid", None, None),
        Ending::Error(_) => ("error", None, None),
    };
    let message = match &o.ending {
        Ending::Invalid(m) | Ending::Error(m) => Some(m.clone()),
        Ending::Killed(_) => Some(describe(o)),
        _ => None,
    };
    let channels: Vec<serde_json::Value> = o
        .channels
        .iter()
        .map(|c| {
            json!({
                "alias": c.alias, "gets": c.used[0], "get_bytes": c.used[1],
                "puts": c.used[2], "put_bytes": c.used[3], "etag": c.etag,
            })
        })
        .collect();
    let v = json!({
        "version": 1,
        "validation": VALIDATION_NAMES[usize::from(validation(o))],
        "state": state,
        "exit_code": exit_code,
        "fault": fault,
        "message": message,
        "status": o.exit_status(),
        "seconds": o.seconds,
        "phases": o.phases.iter().map(|(n, t)| (n.to_string(), json!(t))).collect::<serde_json::Map<String, serde_json::Value>>(),
        "code_bytes": o.code_bytes,
        "verdict_cache": match o.verdict_cache {
            None => "off",
            Some(zvcore::CacheUse::Hit) => "hit",
            Some(zvcore::CacheUse::Miss) => "miss",
        },
        "heap_bytes": o.heap_size,
        "channels": channels,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// ZeroVM's six-line report: validator state, daemon, user return code, etags,
/// accounting, exit state.
pub fn zerovm(o: &Outcome) -> String {
    let validator = validation(o);
    let code = match o.ending {
        Ending::Exit(c) => c,
        _ => 0,
    };
    let etags: Vec<String> = o.channels.iter().filter_map(|c| c.etag.clone()).collect();
    let (gets, gbytes, puts, pbytes) = o
        .channels
        .iter()
        .fold((0i64, 0i64, 0i64, 0i64), |a, c| (a.0 + c.used[0], a.1 + c.used[1], a.2 + c.used[2], a.3 + c.used[3]));
    let state = match &o.ending {
        Ending::Exit(_) => "ok".to_string(),
        other => describe(&Outcome { ending: other.clone(), ..o.clone() }),
    };
    format!(
        "validator state = {validator}\ndaemon = {}\nuser return code = {code}\netag(s) = {}\naccounting = {:.3} {} {} {} {} {}\nexit state = {state}\n",
        u8::from(crate::daemon::in_daemon_mode()),
        if etags.is_empty() { "disabled".to_string() } else { etags.join(" ") },
        o.seconds,
        o.heap_size,
        gets,
        gbytes,
        puts,
        pbytes
    )
}
