//! Crash points inside request transactions, for the tests that kill the
//! server between steps upstream splits (design §7.3). Compiled in only
//! with the `fault-injection` feature: `NEUTRINO_LB_API_FAULT=<point>`
//! aborts the process when a request reaches `<point>` (the flows' own
//! faults are `NEUTRINO_LB_FAULT`, read by the worker).

/// Aborts here if the fault specification names this point.
pub fn point(name: &str) {
    #[cfg(feature = "fault-injection")]
    if std::env::var("NEUTRINO_LB_API_FAULT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
    let _ = name;
}
