//! Fault injection (design §7.3): crash or fail at a chosen point of a
//! chosen step, so tests can kill a worker at every step and check that
//! another one resumes or unwinds the flow.
//!
//! Only a build with the `fault-injection` feature can construct anything
//! but [`Faults::none`]; without it [`Faults::at`] is a constant `None`.
//!
//! Spec (`NEUTRINO_LB_FAULT`, comma-separated for several):
//! `<flow kind>:<step>:<point>[:crash|:error]`, the action defaulting to
//! `crash`; points are `before` and `after` (a step's execute) and
//! `before_undo` and `after_undo` (its undo; `crash` only, since an undo
//! that fails is retried forever).

/// Where in a step a fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// Before `execute` starts.
    Before,
    /// After `execute` succeeded, before its output is committed: the
    /// worst case, the side effect happened and nobody knows.
    After,
    /// Before `undo` starts.
    BeforeUndo,
    /// After `undo` succeeded, before the cursor moves back.
    AfterUndo,
}

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// `std::process::abort()`: no destructor, no lease release, no
    /// rollback beyond what the database does for a dead connection.
    Crash,
    /// The step fails permanently (the flow reverts).
    Error,
}

/// The faults a worker injects.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    #[cfg(feature = "fault-injection")]
    faults: Vec<Fault>,
}

impl Faults {
    /// No faults: what a production build always has.
    pub fn none() -> Self {
        Self::default()
    }

    /// The action configured at `point` of `step` in flows of `kind`.
    #[cfg(feature = "fault-injection")]
    pub fn at(&self, kind: &str, step: &str, point: FaultPoint) -> Option<FaultAction> {
        self.faults
            .iter()
            .find(|f| f.kind == kind && f.step == step && f.point == point)
            .map(|f| f.action)
    }

    /// The action configured at `point` of `step` in flows of `kind`.
    #[cfg(not(feature = "fault-injection"))]
    pub fn at(&self, _kind: &str, _step: &str, _point: FaultPoint) -> Option<FaultAction> {
        None
    }
}

/// The environment variable holding a fault spec.
#[cfg(feature = "fault-injection")]
pub const FAULT_ENV: &str = "NEUTRINO_LB_FAULT";

/// One injected fault.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: String,
    pub step: String,
    pub point: FaultPoint,
    pub action: FaultAction,
}

/// A fault spec that does not parse.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault spec {spec:?}: {reason}")]
pub struct FaultSpecError {
    pub spec: String,
    pub reason: &'static str,
}

#[cfg(feature = "fault-injection")]
impl Faults {
    pub fn new(faults: Vec<Fault>) -> Self {
        Faults { faults }
    }

    /// Faults from [`FAULT_ENV`]; none when it is unset or empty.
    pub fn from_env() -> Result<Self, FaultSpecError> {
        match std::env::var(FAULT_ENV) {
            Ok(spec) => Self::parse(&spec),
            Err(_) => Ok(Self::none()),
        }
    }

    /// Parses a comma-separated list of `<kind>:<step>:<point>[:<action>]`.
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let faults = spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(parse_one)
            .collect::<Result<_, _>>()?;
        Ok(Faults { faults })
    }
}

#[cfg(feature = "fault-injection")]
fn parse_one(spec: &str) -> Result<Fault, FaultSpecError> {
    let err = |reason| FaultSpecError {
        spec: spec.to_owned(),
        reason,
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (kind, step, point, action) = match parts[..] {
        [kind, step, point] => (kind, step, point, "crash"),
        [kind, step, point, action] => (kind, step, point, action),
        _ => return Err(err("expected <kind>:<step>:<point>[:crash|:error]")),
    };
    if kind.is_empty() || step.is_empty() {
        return Err(err("kind and step must not be empty"));
    }
    let point = match point {
        "before" => FaultPoint::Before,
        "after" => FaultPoint::After,
        "before_undo" => FaultPoint::BeforeUndo,
        "after_undo" => FaultPoint::AfterUndo,
        _ => {
            return Err(err(
                "point must be before, after, before_undo or after_undo",
            ));
        }
    };
    let action = match action {
        "crash" => FaultAction::Crash,
        "error" => FaultAction::Error,
        _ => return Err(err("action must be crash or error")),
    };
    if action == FaultAction::Error
        && matches!(point, FaultPoint::BeforeUndo | FaultPoint::AfterUndo)
    {
        return Err(err(
            "an undo can only crash: a failing undo is retried forever",
        ));
    }
    Ok(Fault {
        kind: kind.to_owned(),
        step: step.to_owned(),
        point,
        action,
    })
}

#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use super::*;

    #[test]
    fn parses_every_point_and_defaults_to_crash() {
        let f =
            Faults::parse("lb_create:amp_boot:after, t:s1:before:error ,t:s0:after_undo").unwrap();
        assert_eq!(
            f.at("lb_create", "amp_boot", FaultPoint::After),
            Some(FaultAction::Crash)
        );
        assert_eq!(
            f.at("t", "s1", FaultPoint::Before),
            Some(FaultAction::Error)
        );
        assert_eq!(
            f.at("t", "s0", FaultPoint::AfterUndo),
            Some(FaultAction::Crash)
        );
        assert_eq!(f.at("t", "s1", FaultPoint::After), None);
        assert_eq!(f.at("u", "s1", FaultPoint::Before), None);
        assert!(Faults::parse("").unwrap().faults.is_empty());
    }

    #[test]
    fn rejects_malformed_specs_with_the_reason() {
        for (spec, reason) in [
            ("t:s1", "expected <kind>:<step>:<point>[:crash|:error]"),
            (
                "t:s1:before:crash:x",
                "expected <kind>:<step>:<point>[:crash|:error]",
            ),
            ("t::before", "kind and step must not be empty"),
            (
                "t:s1:during",
                "point must be before, after, before_undo or after_undo",
            ),
            ("t:s1:before:hang", "action must be crash or error"),
            (
                "t:s1:before_undo:error",
                "an undo can only crash: a failing undo is retried forever",
            ),
        ] {
            let e = Faults::parse(spec).unwrap_err();
            assert_eq!(e.reason, reason, "{spec}");
            assert_eq!(e.spec, spec);
        }
    }
}
