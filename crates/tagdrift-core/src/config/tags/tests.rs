use super::*;

#[test]
fn keys() {
    let long = |n: usize| "k".repeat(n);
    let cases: &[(TagRules, &str, Option<&str>)] = &[
        (TagRules::Alibaba, "owner", None),
        (TagRules::Alibaba, "team/app_1-x.y+z=w:v@u\\t", None),
        (TagRules::Alibaba, "成本中心", None),
        (TagRules::Alibaba, "", Some("tag key must not be empty")),
        (
            TagRules::Alibaba,
            "acs:owner",
            Some("tag key 'acs:owner' starts with 'acs:', which alibaba reserves for system tags"),
        ),
        (
            TagRules::Alibaba,
            "aliyunTeam",
            Some("tag key 'aliyunTeam' starts with 'aliyun', which alibaba reserves for system tags"),
        ),
        (
            TagRules::Alibaba,
            "cost center",
            Some(
                "tag key 'cost center' contains ' ', which alibaba tags do not allow \
                 (letters, digits and / \\ _ - . + = : @ only)",
            ),
        ),
        (TagRules::HuaweiKey, "key1", None),
        (TagRules::HuaweiKey, "cost center", None),
        (
            TagRules::HuaweiKey,
            "a=b",
            Some(
                "tag key 'a=b' contains '=', which huawei keys do not allow (no control characters, *, <, >, \\ or =)",
            ),
        ),
        (
            TagRules::HuaweiKey,
            "a\u{1}",
            Some(
                "tag key 'a\\u{1}' contains '\\u{1}', which huawei keys do not allow \
                 (no control characters, *, <, >, \\ or =)",
            ),
        ),
        (TagRules::HuaweiSecret, "_sys", None),
        (TagRules::HuaweiSecret, "a b:c=d+e-f@g.h_i", None),
        (
            TagRules::HuaweiSecret,
            "_sys_x",
            Some("tag key '_sys_x' starts with '_sys_', which huawei reserves for system tags"),
        ),
        (
            TagRules::HuaweiSecret,
            " x",
            Some("tag key ' x' starts or ends with whitespace, which huawei secrets do not allow"),
        ),
        (
            TagRules::HuaweiSecret,
            "a/b",
            Some(
                "tag key 'a/b' contains '/', which huawei secrets do not allow \
                 (letters, digits, spaces and _ . : = + - @ only)",
            ),
        ),
    ];
    for (rules, key, want) in cases {
        assert_eq!(rules.check_key(key).err().as_deref(), *want, "{rules} {key:?}");
    }
    let length_cases = [
        (TagRules::Alibaba, 128, 129),
        (TagRules::HuaweiKey, 36, 37),
        (TagRules::HuaweiSecret, 128, 129),
    ];
    for (rules, ok, bad) in length_cases {
        assert_eq!(rules.check_key(&long(ok)), Ok(()), "{rules} {ok}");
        let err = rules.check_key(&long(bad)).unwrap_err();
        assert!(err.contains(&format!("is {bad} characters long")), "{err}");
    }
}

#[test]
fn values() {
    let cases: &[(TagRules, &str, Option<&str>)] = &[
        (TagRules::Alibaba, "", None),
        (TagRules::Alibaba, "payments", None),
        (
            TagRules::Alibaba,
            "a,b",
            Some(
                "tag value 'a,b' contains ',', which alibaba tags do not allow (letters, digits and / \\ _ - . + = : @ only)",
            ),
        ),
        (TagRules::HuaweiKey, "", None),
        (TagRules::HuaweiKey, "a b/c", None),
        (
            TagRules::HuaweiKey,
            "<x>",
            Some(
                "tag value '<x>' contains '<', which huawei keys do not allow (no control characters, *, <, >, \\ or =)",
            ),
        ),
        (TagRules::HuaweiSecret, "", None),
        (TagRules::HuaweiSecret, "a/b c", None),
        (
            TagRules::HuaweiSecret,
            "a#b",
            Some(
                "tag value 'a#b' contains '#', which huawei secrets do not allow \
                 (letters, digits, spaces and _ . : / = + - @ only)",
            ),
        ),
    ];
    for (rules, value, want) in cases {
        assert_eq!(
            rules.check_value(value).err().as_deref(),
            *want,
            "{rules} {value:?}"
        );
    }
    for (rules, ok) in [
        (TagRules::Alibaba, 128),
        (TagRules::HuaweiKey, 43),
        (TagRules::HuaweiSecret, 255),
    ] {
        assert_eq!(rules.check_value(&"v".repeat(ok)), Ok(()));
        assert!(rules.check_value(&"v".repeat(ok + 1)).is_err());
    }
}

#[test]
fn rules_per_resource() {
    assert_eq!(TagRules::of(Cloud::Alibaba, ResourceType::Key), TagRules::Alibaba);
    assert_eq!(
        TagRules::of(Cloud::Alibaba, ResourceType::Secret),
        TagRules::Alibaba
    );
    assert_eq!(
        TagRules::of(Cloud::Huawei, ResourceType::Key),
        TagRules::HuaweiKey
    );
    assert_eq!(
        TagRules::of(Cloud::Huawei, ResourceType::Secret),
        TagRules::HuaweiSecret
    );
    assert_eq!(TagRules::HuaweiKey.max_tags(), Some(10));
    assert_eq!(TagRules::HuaweiSecret.max_tags(), Some(20));
    assert_eq!(TagRules::Alibaba.max_tags(), None);
}
