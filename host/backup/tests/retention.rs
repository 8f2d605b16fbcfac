//! Retention with an injected clock: a daily backup for weeks, in a moment.

use cloudops_backup::retention::{self, due, prune_local, AUTO_INTERVAL_SECS};
use cloudops_backup::{create, local_dir, time_of};

use crate::common;

const DAY: i64 = 86_400;
const START: i64 = 1_800_000_000;

#[test]
fn local_backups_are_taken_once_a_day_and_kept_seven_days() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sealer = common::data_dir(&data, 16);
    let dir = local_dir(&data);
    assert!(due(&dir, START), "no backup yet");
    let mut taken = 0;
    // Every hour for 10 days, as a sync every hour would call it.
    for hour in 0..(10 * 24) {
        let now = START + hour * 3600;
        if due(&dir, now) {
            create(&data, None, &sealer, &dir, now).unwrap();
            prune_local(&dir, now).unwrap();
            taken += 1;
        }
    }
    assert_eq!(taken, 10, "one a day");
    let now = START + (10 * 24 - 1) * 3600;
    let ages: Vec<i64> = retention::list(&dir)
        .iter()
        .map(|b| (now - b.created_at) / DAY)
        .collect();
    assert_eq!(ages, vec![7, 6, 5, 4, 3, 2, 1, 0], "kept 7 days: {ages:?}");
    assert!(
        !due(&dir, now),
        "taken within the last {AUTO_INTERVAL_SECS} s"
    );

    // A month without syncs: everything older than 7 days goes, except the newest.
    let later = now + 30 * DAY;
    let deleted = prune_local(&dir, later).unwrap();
    assert_eq!(deleted.len(), 7);
    let left = retention::list(&dir);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].created_at, time_of(&left[0].name).unwrap());
    assert_eq!(left[0].created_at, START + 9 * DAY);
}
