//! What the files in `pg_wal` say that SQL does not: a standby's timeline. PostgreSQL 15 has no
//! SQL function for the timeline a standby replays, and its control file names a new one only
//! after a restartpoint; a WAL segment is named by the timeline it holds and a standby writes
//! (or recycles) segments only of the timelines it streams or replays, so the newest segment's
//! timeline is one the standby accepted.

use std::path::Path;

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
