//! The evaluation dashboard in headless Chromium: the real server on
//! 127.0.0.1 with the demo's year of data; `tests/it/dashboard.mjs` signs in
//! through the form and reports what the page shows; this test compares it
//! with `GET /api/v1/evaluation`.
//!
//! Needs headless Chromium and playwright-core (the wallet's npm packages:
//! `.ci/run` installs both); without them the test fails saying so.

use std::path::PathBuf;
use std::process::Command;

use axum::http::StatusCode;
use serde_json::Value;
use testkit::SocketServer;

fn playwright_dir() -> PathBuf {
    let dir = std::env::var("PLAYWRIGHT_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules"),
        PathBuf::from,
    );
    assert!(
        dir.join("playwright-core/package.json").is_file(),
        "{} has no playwright-core: build the front-ends with scripts/build-web (npm ci), \
         as .ci/run does, or set PLAYWRIGHT_DIR to a node_modules that has it",
        dir.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).is_file(),
        "{chromium} is missing: run `apt-get install -y chromium` (or set CHROMIUM)"
    );
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_what_the_api_answers() {
    let modules = playwright_dir();
    let dir = testkit::tempdir();
    let data = dir.path().to_path_buf();
    let state = tokio::task::spawn_blocking({
        let data = data.clone();
        move || {
            let state = testkit::open_at(&data, verifier_server::Config::default());
            verifier_server::demo::prepare(&data, &state).unwrap();
            state
        }
    })
    .await
    .unwrap();
    let admin = std::fs::read_to_string(data.join("demo/admin-token"))
        .unwrap()
        .trim()
        .to_string();

    let (status, _, body) =
        testkit::get_from(&state, "/api/v1/evaluation?year=2026", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let api: Value = serde_json::from_slice(&body).unwrap();

    let server = SocketServer::start(state).await;
    let url = server.url.clone();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/dashboard.mjs");
    let output = tokio::task::spawn_blocking({
        let (url, admin) = (url.clone(), admin.clone());
        move || {
            Command::new("node")
                .arg(script)
                .env("DASH_URL", url)
                .env("TOKEN", admin)
                .env("YEAR", "2026")
                .env("PLAYWRIGHT_DIR", modules)
                .output()
                .expect("running node (needed for the dashboard test)")
        }
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
    assert!(
        output.status.success(),
        "dashboard.mjs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();

    // No token in the URL, nothing fetched from elsewhere.
    let page_url = shown["url"].as_str().unwrap();
    assert!(
        !page_url.contains(&admin) && !page_url.contains("token"),
        "{page_url}"
    );
    assert_eq!(shown["foreign_requests"], Value::Array(Vec::new()));

    // Every row as the API answers it: the 14 cities and the province.
    let mut scores: Vec<&Value> = api["cities"].as_array().unwrap().iter().collect();
    scores.push(&api["province"]);
    let rows = shown["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 15);
    for s in scores {
        let row = rows
            .iter()
            .find(|r| r["division"] == s["division"])
            .unwrap_or_else(|| panic!("no row for {}", s["division"]));
        let frac = |item: &str| {
            format!(
                "{}/{}",
                s[item]["numerator"].as_u64().unwrap(),
                s[item]["denominator"].as_u64().unwrap()
            )
        };
        assert_eq!(row["issuance"], frac("issuance"), "{row}");
        assert_eq!(row["activation"], frac("activation"), "{row}");
        assert_eq!(row["issuance_points"], s["issuance"]["points"], "{row}");
        assert_eq!(row["activation_points"], s["activation"]["points"], "{row}");
        assert_eq!(row["training_points"], s["training"]["points"], "{row}");
        assert_eq!(row["display_points"], s["display"]["points"], "{row}");
        assert_eq!(row["total"], s["total"], "{row}");
        assert_eq!(
            row["anomalies"].as_u64().unwrap(),
            s["anomalies"].as_array().unwrap().len() as u64,
            "{row}"
        );
    }
    // The demo's year is non-trivial: every city scores something on
    // issuance and activation (checked by the next city's officers),
    // someone refused, the inflating city's logs are anomalies and its
    // own devices' static checks do not count.
    for c in api["cities"].as_array().unwrap() {
        assert!(
            c["issuance"]["points"].as_u64().unwrap() > 0,
            "{}",
            c["division"]
        );
        let activated = c["activation"]["numerator"].as_u64().unwrap();
        if c["division"] == verifier_server::demo::seed::INFLATING_CITY {
            assert_eq!(activated, 0, "{c}");
            assert!(c["activation"]["uncorroborated_checks"].as_u64().unwrap() > 0);
        } else {
            assert!(activated > 0, "{}", c["division"]);
        }
    }
    let incidents = api["province"]["display"]["incidents"]
        .as_array()
        .unwrap()
        .len();
    let anomalies = api["province"]["anomalies"].as_array().unwrap().len();
    assert!(incidents >= 2 && anomalies > 0, "{incidents} {anomalies}");
    assert_eq!(shown["incidents"].as_u64().unwrap() as usize, incidents);
    assert_eq!(shown["anomalies"].as_u64().unwrap() as usize, anomalies);
    // Charts: the province's line and one per city, a point per month
    // that has a rate.
    assert_eq!(shown["chart_visible"], true);
    for chart in ["issuance_lines", "activation_lines"] {
        let lines = shown[chart].as_array().unwrap();
        let province = lines.iter().find(|l| l["division"] == 210000).unwrap();
        let with_rate = api["province"]["monthly"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| {
                let key = if chart == "issuance_lines" {
                    "issuance_percent"
                } else {
                    "activation_percent"
                };
                !m[key].is_null()
            })
            .count();
        assert_eq!(
            province["points"].as_u64().unwrap() as usize,
            with_rate,
            "{chart}"
        );
        assert_eq!(lines.len(), 15, "{chart}");
    }
    // The demo's correction lists are open (its non-conforming records).
    assert!(shown["corrections"].as_u64().unwrap() > 0);
}
