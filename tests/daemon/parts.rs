//! The daemon with a desired state split over a directory: a part added, rewritten or removed reloads, and a
//! broken part is rejected with its file named while the last good state stays in force.

use std::time::Duration;

use super::harness::{FIXTURE, Scripted, start_dir, write_atomically};
use super::wait_for_total;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_part_of_a_directory_is_watched() {
    let every_second = FIXTURE.replace("\"0 0 0 1 1 *\"", "\"* * * * * *\"");
    let d = start_dir(&[("00-base.yaml", &every_second)], Scripted::fixture()).await;
    d.first_check().await;
    wait_for_total(&d, 4).await;

    // A team adds its file: one more secret, in an account the base file declares.
    let team = d.config.join("10-team.yaml");
    let extra = "version: 1\nresources:\n  - {account: ali-prod, region: cn-hangzhou, type: secret, name: extra, \
                 tags: {owner: ops}}\n";
    write_atomically(&team, extra);
    d.wait_metric("tagdrift_config_reloads_total 1", Duration::from_secs(5))
        .await;
    wait_for_total(&d, 5).await;

    // A broken part: rejected, and the last good state (5 resources) stays.
    write_atomically(&team, "version: 1\nresources: {}\n");
    d.wait_metric("tagdrift_config_reload_failures_total 1", Duration::from_secs(5))
        .await;
    wait_for_total(&d, 5).await;

    // The file removed: back to the base file's 4 resources.
    std::fs::remove_file(&team).unwrap();
    d.wait_metric("tagdrift_config_reloads_total 3", Duration::from_secs(5))
        .await;
    wait_for_total(&d, 4).await;
    d.stop().await;
}
