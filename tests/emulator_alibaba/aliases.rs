//! `ListAliases` and `ListAliasesByKeyId`: paging by `PageNumber`/`PageSize` with `TotalCount`, the
//! `Aliases.Alias[] {KeyId, AliasName, AliasArn}` shape, and the errors for bad paging and unknown keys.

use serde_json::json;

use super::support::*;

/// 23 keys, every odd one with an alias (`alias/app-NN`), plus one without.
fn inventory() -> String {
    let mut yaml = String::from(
        "alibaba:\n  - access_key_id: testid\n    access_key_secret: testsecret\n    regions:\n      cn-hangzhou:\n        keys:\n",
    );
    for k in 0..23 {
        if k % 2 == 1 {
            yaml.push_str(&format!("          - {{id: key-{k:05}, alias: app-{k:02}}}\n"));
        } else {
            yaml.push_str(&format!("          - {{id: key-{k:05}}}\n"));
        }
    }
    yaml
}

#[tokio::test]
async fn alias_listings_page_and_fail_as_documented() {
    let emu = Emu::start(&inventory()).await;
    let list = |name: &str, params: &str| call(name, Sig::V3, "ListAliases", params);
    let by_key = |name: &str, params: &str| call(name, Sig::V3, "ListAliasesByKeyId", params);
    emu.run_table(&[
        // 11 aliases: the default page of 10, then the 11th.
        list("default page size", "RegionId=cn-hangzhou").checks([
            len("/Aliases/Alias", 10),
            eq("/TotalCount", 11),
            eq("/PageSize", 10),
            eq("/PageNumber", 1),
            eq(
                "/Aliases/Alias/0",
                json!({"KeyId": "key-00001", "AliasName": "alias/app-01",
                       "AliasArn": "acs:kms:cn-hangzhou:2624985770092036:alias/app-01"}),
            ),
        ]),
        list("page 2", "RegionId=cn-hangzhou&PageNumber=2").checks([
            len("/Aliases/Alias", 1),
            eq("/Aliases/Alias/0/AliasName", "alias/app-21"),
        ]),
        list("past the end", "RegionId=cn-hangzhou&PageNumber=3")
            .checks([len("/Aliases/Alias", 0), eq("/TotalCount", 11)]),
        list("the largest page", "RegionId=cn-hangzhou&PageSize=100").checks([len("/Aliases/Alias", 11)]),
        list("page size 101", "RegionId=cn-hangzhou&PageSize=101").fails(400, "InvalidParameter"),
        list("page size 0", "RegionId=cn-hangzhou&PageSize=0").fails(400, "InvalidParameter"),
        list("page number 0", "RegionId=cn-hangzhou&PageNumber=0").fails(400, "InvalidParameter"),
        list("another region has none", "RegionId=cn-shanghai")
            .checks([len("/Aliases/Alias", 0), eq("/TotalCount", 0)]),
        by_key("a key with an alias", "RegionId=cn-hangzhou&KeyId=key-00003").checks([
            eq("/TotalCount", 1),
            eq("/Aliases/Alias/0/AliasName", "alias/app-03"),
            eq("/Aliases/Alias/0/KeyId", "key-00003"),
        ]),
        by_key("a key without", "RegionId=cn-hangzhou&KeyId=key-00002")
            .checks([len("/Aliases/Alias", 0), eq("/TotalCount", 0)]),
        by_key("an unknown key", "RegionId=cn-hangzhou&KeyId=key-99999").fails(404, "Forbidden.KeyNotFound"),
        by_key(
            "an alias is not a key id",
            "RegionId=cn-hangzhou&KeyId=alias/app-03",
        )
        .fails(404, "Forbidden.KeyNotFound"),
        by_key("no key id", "RegionId=cn-hangzhou").fails(400, "MissingParameter"),
        by_key(
            "page size 101",
            "RegionId=cn-hangzhou&KeyId=key-00003&PageSize=101",
        )
        .fails(400, "InvalidParameter"),
    ])
    .await;
}
