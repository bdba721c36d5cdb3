//! Runs IBM's official Python SDK (`ibm-watson`) against the simulator through IAM
//! authentication (`tests/sdk/ibm_sdk_check.py`).
//!
//! If `import ibm_watson` fails, the test tries `python3 -m pip install --quiet ibm-watson`; if
//! the SDK is still missing it is skipped with a loud message, unless `WSO_REQUIRE_SDK=1`, in
//! which case it fails.

use std::process::Command;
use std::time::Duration;

use watson_speech_operator::simulator::{self, Profile, SimulatorConfig};

const KEY: &str = "sdk-key";

fn sdk_importable() -> bool {
    Command::new("python3")
        .args(["-c", "import ibm_watson, ibm_cloud_sdk_core"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn ensure_sdk() -> bool {
    if sdk_importable() {
        return true;
    }
    eprintln!("ibm_watson is not importable; trying `python3 -m pip install --quiet ibm-watson`");
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "ibm-watson"])
        .status();
    sdk_importable()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_works_against_the_simulator() {
    if !ensure_sdk() {
        let msg = "\n\n*** SKIPPED: the IBM Python SDK (ibm-watson) is not available; \
                   set WSO_REQUIRE_SDK=1 to make this a failure ***\n";
        if std::env::var("WSO_REQUIRE_SDK").as_deref() == Ok("1") {
            panic!("{msg}");
        }
        eprintln!("{msg}");
        return;
    }
    // The SDK works against both services the simulator plays (docs/simulator.md, Profiles).
    for profile in [Profile::IbmCloud, Profile::Legacy] {
        sdk_check(profile).await;
    }
}

/// Runs the SDK script against a simulator playing `profile`.
async fn sdk_check(profile: Profile) {
    let sim = simulator::start(SimulatorConfig {
        profile,
        api_keys: vec![KEY.to_owned()],
        time_scale: 0.001,
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/ibm_sdk_check.py");
    let child = tokio::process::Command::new("python3")
        .arg(script)
        .env("WSO_SIM_STT_URL", sim.stt_url())
        .env("WSO_SIM_TTS_URL", sim.tts_url())
        .env("WSO_SIM_IAM_URL", sim.iam_url())
        .env("WSO_SIM_APIKEY", KEY)
        .env("WSO_SIM_PROFILE", profile.as_str())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), child)
        .await
        .expect("SDK check finished within 3 minutes")
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "SDK check failed on the {} profile:\n{stdout}\n{stderr}",
        profile.as_str()
    );
    assert!(stdout.contains("SDK CHECK OK"));

    // The SDK authenticated through IAM: its requests carried Bearer tokens.
    let counters = sim.admin().counters().await.expect("counters");
    assert!(counters.get(watson_speech_operator::watson::Operation::GetToken, 200) >= 1);
    assert_eq!(
        counters
            .by_operation
            .values()
            .flat_map(|m| m.iter())
            .filter(|(status, _)| status.as_str() == "401")
            .map(|(_, n)| *n)
            .sum::<u64>(),
        1,
        "only the deliberate read of a deleted model is a 401"
    );
}
