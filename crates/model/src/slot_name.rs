//! Replication slot names from member names, as Patroni derives them (the leader creates one per
//! member; `/status` names them).

/// Lower-case; `-` and `.` become `_`; any other character outside `[a-z0-9_]` becomes `u`
/// and its code point in four decimal digits (`u%04d`); at most 63 characters.
pub fn slot_name_from_member_name(member: &str) -> String {
    let mut out = String::new();
    for c in member.to_lowercase().chars() {
        match c {
            'a'..='z' | '0'..='9' | '_' => out.push(c),
            '-' | '.' => out.push('_'),
            other => out.push_str(&format!("u{:04}", u32::from(other))),
        }
    }
    out.chars().take(63).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patronis_mapping() {
        assert_eq!(slot_name_from_member_name("node2"), "node2");
        assert_eq!(slot_name_from_member_name("Pg-1.example"), "pg_1_example");
        assert_eq!(slot_name_from_member_name("a b"), "au0032b");
        assert_eq!(slot_name_from_member_name("é"), "u0233");
        assert_eq!(slot_name_from_member_name(&"x".repeat(80)).len(), 63);
    }
}
