//! Spellings patronictl 4 removed with the word "master" (`--master`, the role `master`), which
//! scripts written for patronictl 3 still use: accepted as `--leader` and `primary`, with a
//! deprecation warning on stderr (never on stdout, which `-f json` and scripts read).

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

/// The roles `--role` takes, as patronictl 4 lists them.
pub const ROLES: [&str; 6] = [
    "leader",
    "primary",
    "standby-leader",
    "replica",
    "standby",
    "any",
];

/// The warning for the `--master` option.
pub const MASTER_OPTION: &str = "Warning: --master is deprecated and will be removed in a future version, use --leader or --primary instead";

/// The warning for the role `master`.
pub const MASTER_ROLE: &str = "Warning: role 'master' is deprecated and will be removed in a future version, use 'primary' instead";

/// A role as given: `master` is `primary`, with its warning.
pub fn role(given: String) -> (String, Option<&'static str>) {
    if given == "master" {
        ("primary".into(), Some(MASTER_ROLE))
    } else {
        (given, None)
    }
}

/// `--role`'s parser: patronictl 4's roles (the listing and errors clap shows), and a hidden
/// `master`.
pub fn role_parser() -> impl TypedValueParser<Value = String> {
    let values = ROLES
        .iter()
        .map(|r| PossibleValue::new(*r))
        .chain([PossibleValue::new("master").hide(true)]);
    PossibleValuesParser::new(values).map(|given| {
        let (role, warning) = role(given);
        if let Some(warning) = warning {
            eprintln!("{warning}");
        }
        role
    })
}

/// The current leader from `--leader`/`--primary`, else the deprecated `--master`.
pub fn leader(leader: Option<String>, master: Option<String>) -> Option<String> {
    if master.is_some() {
        eprintln!("{MASTER_OPTION}");
    }
    leader.or(master)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_is_primary_with_a_warning() {
        assert_eq!(role("master".into()), ("primary".into(), Some(MASTER_ROLE)));
        for r in ROLES {
            assert_eq!(role(r.into()), (r.to_string(), None));
        }
        assert_eq!(leader(None, Some("n1".into())).as_deref(), Some("n1"));
        assert_eq!(leader(Some("n2".into()), None).as_deref(), Some("n2"));
    }
}
