//! What the files in `pg_wal` say that SQL does not, and the timeline numbers claimed there before
//! a promotion.
//!
//! A standby's timeline: PostgreSQL 15 has no
//! SQL function for the timeline a standby replays, and its control file names a new one only
//! after a restartpoint; a WAL segment is named by the timeline it holds and a standby writes
//! (or recycles) segments only of the timelines it streams or replays, so the newest segment's
//! timeline is one the standby accepted.

use std::path::Path;

/// The first line of a claim file: how Ferroni tells its own from PostgreSQL's history files.
const CLAIM_MARK: &str = "# ferroni: claims this timeline number before a promotion; not a history";

/// Writes a history file for each of `timelines` that `pg_wal` lacks, so a promotion names its
/// new timeline after them (PostgreSQL takes the newest number with a history file, plus one).
/// Each says `local_timeline` ended at 0/0: a standby that reads one refuses to switch to it
/// ("forked off ... before current recovery point") and keeps its own recovery target, so the
/// new timeline's history is still copied from the real one. Returns the files written.
pub fn claim_timelines(
    pg_wal: &Path,
    local_timeline: u64,
    timelines: &[u64],
) -> std::io::Result<Vec<u64>> {
    let mut written = Vec::new();
    for &timeline in timelines.iter().filter(|t| **t > local_timeline) {
        let file = pg_wal.join(format!("{timeline:08X}.history"));
        if file.exists() {
            continue;
        }
        std::fs::write(
            &file,
            format!("{CLAIM_MARK}\n{local_timeline}\t0/0\tclaimed by ferroni\n"),
        )?;
        written.push(timeline);
    }
    Ok(written)
}

/// Removes the claims no timeline came after (a promotion that did not happen, or did not
/// finish): a standby that starts with `recovery_target_timeline = latest` would pick one as its
/// target and stop ("requested timeline is not a child of this server's history"). Claims below
/// a real history file stay: the new primary serves them to its standbys, whose WAL receivers
/// fetch every history file between their timeline and the primary's. Returns how many it
/// removed.
pub fn release_claims(pg_wal: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(pg_wal) else {
        return 0;
    };
    let histories: Vec<(u64, bool)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let timeline = u64::from_str_radix(name.strip_suffix(".history")?, 16).ok()?;
            let claim =
                std::fs::read_to_string(e.path()).is_ok_and(|text| text.starts_with(CLAIM_MARK));
            Some((timeline, claim))
        })
        .collect();
    let newest_real = histories
        .iter()
        .filter(|(_, claim)| !claim)
        .map(|(t, _)| *t)
        .max()
        .unwrap_or(0);
    histories
        .iter()
        .filter(|(t, claim)| *claim && *t > newest_real)
        .filter(|(t, _)| std::fs::remove_file(pg_wal.join(format!("{t:08X}.history"))).is_ok())
        .count()
}

/// The newest timeline of any WAL segment in `pg_wal` (`None`: none, or unreadable).
pub fn newest_segment_timeline(pg_wal: &Path) -> Option<u64> {
    std::fs::read_dir(pg_wal)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| segment_timeline(&e.file_name().to_string_lossy()))
        .max()
}

/// The timeline of a segment file name (24 hexadecimal digits, the first 8 its timeline).
fn segment_timeline(name: &str) -> Option<u64> {
    if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&name[..8], 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_segment_names_count() {
        assert_eq!(segment_timeline("000000020000000000000005"), Some(2));
        assert_eq!(segment_timeline("0000000A0000000000000005"), Some(10));
        assert_eq!(segment_timeline("00000002.history"), None);
        assert_eq!(segment_timeline("000000020000000000000005.partial"), None);
        assert_eq!(segment_timeline("archive_status"), None);
    }

    #[test]
    fn claims_are_written_where_missing_and_removed_without_touching_real_histories() {
        let dir = std::env::temp_dir().join(format!("ferroni-claims-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let real = "1\t0/5000000\tno recovery target specified\n";
        std::fs::write(dir.join("00000002.history"), real).unwrap();
        assert_eq!(claim_timelines(&dir, 1, &[2, 3, 4]).unwrap(), vec![3, 4]);
        let claim = std::fs::read_to_string(dir.join("00000003.history")).unwrap();
        assert!(claim.ends_with("1\t0/0\tclaimed by ferroni\n"), "{claim}");
        assert_eq!(release_claims(&dir), 2);
        assert_eq!(
            std::fs::read_to_string(dir.join("00000002.history")).unwrap(),
            real
        );
        assert!(!dir.join("00000003.history").exists());
        // After a promotion onto timeline 5, the claims below it stay (its standbys fetch them).
        assert_eq!(claim_timelines(&dir, 2, &[3, 4]).unwrap(), vec![3, 4]);
        std::fs::write(dir.join("00000005.history"), real).unwrap();
        assert_eq!(release_claims(&dir), 0);
        assert!(dir.join("00000004.history").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_newest_timeline_in_a_directory() {
        let dir = std::env::temp_dir().join(format!("ferroni-walfiles-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("archive_status")).unwrap();
        for name in [
            "000000010000000000000004",
            "000000020000000000000005",
            "00000003.history",
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        assert_eq!(newest_segment_timeline(&dir), Some(2));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(newest_segment_timeline(&dir), None);
    }
}
