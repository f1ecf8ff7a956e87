//! The exposition, and the monitoring files (`deploy/monitoring`) against it: every metric an
//! alert or a dashboard panel names is one the node exports.

use super::*;
use std::collections::BTreeSet;

/// Every family with a sample, rendered.
fn rendered() -> String {
    let m = Metrics::default();
    m.protocol_finished("sign", Duration::from_millis(5), true);
    m.request(true);
    m.signature_invalid();
    m.set_stock(0, Kind::Presignature, 3);
    m.set_peers([(1, true)]);
    m.claim_refused("spent");
    m.set_router(&[(
        ParticipantId(1),
        [Standing {
            held: 10,
            dropped: 1,
        }; 3],
    )]);
    m.set_indexer(5, 7);
    m.indexer_error("unreachable");
    m.request_closed(true, Duration::from_millis(700));
    m.request_closed(false, Duration::from_secs(20));
    m.set_health(true, true, 2);
    m.render()
}

/// The sample names of an exposition (`name{labels} value` / `name value`).
fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

/// `chainsig_…` words in a file.
fn named_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("chainsig_") {
        let word: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + word.len()..];
        names.insert(word);
    }
    names
}

#[test]
fn every_new_measure_is_exposed_with_its_value() {
    let names = sample_names(&rendered());
    for expected in [
        "chainsig_requests_closed_total",
        "chainsig_request_latency_seconds_bucket",
        "chainsig_request_latency_seconds_count",
        "chainsig_pending_requests",
        "chainsig_healthy",
        "chainsig_store_writable",
        "chainsig_indexer_lag_blocks",
        "chainsig_signatures_invalid_total",
    ] {
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }
    let text = rendered();
    assert!(
        text.contains(r#"chainsig_requests_closed_total{outcome="timed_out"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("chainsig_request_latency_seconds_count 1"),
        "{text}"
    );
    assert!(text.contains("chainsig_pending_requests 2"), "{text}");
}

#[test]
fn alerts_and_dashboard_name_only_exported_metrics() {
    let exported = sample_names(&rendered());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/monitoring");
    let mut checked = 0;
    for file in ["alerts.yml", "alerts.test.yml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let named = named_in(&text);
        assert!(!named.is_empty(), "{file} names no metric");
        for name in named {
            assert!(
                exported.contains(&name),
                "{file} names {name}, which the node does not export"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked}");
    // The dashboard is JSON Grafana imports: panels with a query each.
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("grafana-dashboard.json")).unwrap())
            .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    for p in panels {
        assert!(p["targets"][0]["expr"].is_string(), "{p}");
    }
}
