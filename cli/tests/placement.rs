//! `faultline shards` through the binary: it writes its results and
//! charts with a row per strategy and N, and refuses node counts it
//! cannot measure (exit 2).

mod common;

#[test]
fn the_shards_command_writes_a_row_per_strategy_and_node_count() {
    let dir = common::temp_dir("shards");
    let out = dir.display().to_string();
    let args = [
        "shards", "--keys", "5000", "--nodes", "3,6", "--salts", "2", "--out", &out,
    ];
    let run = common::faultline(&args);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    for file in ["results.json", "results.md", "moved.svg", "imbalance.svg"] {
        assert!(dir.join(file).exists(), "{file} not written");
    }
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let summary = json["summary"].as_array().expect("a summary");
    assert_eq!(summary.len(), 6 * 2);
    let jump_at_3 = summary
        .iter()
        .find(|s| s["strategy"] == "jump" && s["nodes"] == 3)
        .expect("jump at N = 3");
    let moved = jump_at_3["moved_on_join"]["mean"]
        .as_f64()
        .expect("a share");
    assert!((moved - 0.25).abs() < 0.03, "{jump_at_3}");
}

#[test]
fn the_shards_command_refuses_a_node_count_below_two() {
    for nodes in ["1", "0", "4,x"] {
        let run = common::faultline(&["shards", "--nodes", nodes, "--out", "/nonexistent"]);
        assert_eq!(run.status.code(), Some(2), "--nodes {nodes}: {run:?}");
    }
}
