//! The liftable Process, proven: the built-in broadcast protocol, unchanged,
//! runs on real UDP sockets on localhost (`examples/udp`) and every node
//! delivers every value, with and without lost datagrams; with its
//! durable writes in journal files, a second run given no values delivers
//! the first run's values from what the nodes recovered.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/udp/main.rs"]
mod udp;

use udp::Options;

#[test]
fn broadcast_delivers_everything_over_real_udp() {
    assert!(udp::run(&Options::default()).expect("the sockets work"));
}

#[test]
fn broadcast_retransmits_over_lossy_real_udp() {
    let options = Options {
        loss: 0.6,
        ..Options::default()
    };
    assert!(udp::run(&options).expect("the sockets work"));
}

#[test]
fn broadcast_recovers_its_values_from_journal_files() {
    let dir = std::env::temp_dir().join(format!("faultline-udp-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut options = Options {
        data_dir: Some(dir.clone()),
        ..Options::default()
    };
    assert!(udp::run(&options).expect("the first run works"));
    options.recover = true;
    assert!(
        udp::run(&options).expect("the recovering run works"),
        "given no values, the nodes deliver what their journals hold"
    );
    // A node whose disk was lost learns every value again from its peers.
    std::fs::remove_file(dir.join("n1.journal")).unwrap_or_else(|e| panic!("{e}"));
    assert!(udp::run(&options).expect("the run works"));
    let journal = std::fs::read_to_string(dir.join("n0.journal")).unwrap_or_default();
    assert!(
        journal.lines().any(|l| l.contains(r#""op":"sync""#)),
        "{journal}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_journal_loses_what_was_not_synced_like_the_simulated_disk() {
    use faultline::process::{DiskKey, Storage};
    use udp::journal::Journal;
    let path = std::env::temp_dir().join(format!("faultline-journal-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    {
        let (mut journal, disk) = Journal::<u64>::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(disk.is_empty());
        journal.write(DiskKey::new("log", 1), 10);
        journal.write(DiskKey::new("log", 2), 20);
        journal.sync().expect("a sync on a healthy disk");
        journal.delete(DiskKey::new("log", 1));
        journal.write(DiskKey::new("log", 3), 30); // never synced
    }
    let (mut journal, disk) = Journal::<u64>::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let held: Vec<(u64, u64)> = disk.scan("log").map(|(i, v)| (i, *v)).collect();
    assert_eq!(held, [(1, 10), (2, 20)]);
    // The unsynced tail was cut off: a later sync does not bring it back.
    journal.write(DiskKey::new("log", 4), 40);
    journal.sync().expect("a sync on a healthy disk");
    drop(journal);
    let (_, disk) = Journal::<u64>::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let held: Vec<(u64, u64)> = disk.scan("log").map(|(i, v)| (i, *v)).collect();
    assert_eq!(held, [(1, 10), (2, 20), (4, 40)]);
    std::fs::write(&path, "{\"op\":\"sync\"}\nnot json\n").unwrap_or_else(|e| panic!("{e}"));
    let error = Journal::<u64>::open(&path).err().map(|e| e.to_string());
    assert!(
        error.as_deref().is_some_and(|e| e.contains(":2:")),
        "a corrupt journal names its line: {error:?}"
    );
    let _ = std::fs::remove_file(&path);
}
