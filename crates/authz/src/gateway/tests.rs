//! Tests of gateway path rules: prefix edge cases, refused paths, and the access table.

use super::*;

fn rules(pairs: &[(&str, Access)]) -> PathRules {
    PathRules::new(pairs.iter().map(|(p, a)| ((*p).to_owned(), *a))).unwrap()
}

/// The prefix of the rule `path` falls under, `None` for no rule.
#[track_caller]
fn check_match(rules: &PathRules, path: &str, expected: Option<&str>) {
    let matched = rules.match_path(path).unwrap().map(Rule::prefix);
    assert_eq!(matched, expected, "path {path:?}");
}

#[test]
fn prefixes_match_at_segment_boundaries() {
    let r = rules(&[("/public", Access::Public)]);
    check_match(&r, "/public", Some("/public"));
    check_match(&r, "/public/", Some("/public"));
    check_match(&r, "/public/x", Some("/public"));
    check_match(&r, "/public/x/y.css", Some("/public"));
    check_match(&r, "/public;jsessionid=1", Some("/public"));
    check_match(&r, "/publicity", None);
    check_match(&r, "/public.html", None);
    check_match(&r, "/public-x", None);
    check_match(&r, "/publi", None);
    check_match(&r, "/Public", None);
    check_match(&r, "/x/public", None);
    check_match(&r, "/", None);
}

#[test]
fn trailing_slash_prefix_matches_what_starts_with_it() {
    let r = rules(&[("/api/", Access::Public)]);
    check_match(&r, "/api/", Some("/api/"));
    check_match(&r, "/api/x", Some("/api/"));
    check_match(&r, "/api", None);
    check_match(&r, "/apix/", None);
}

#[test]
fn empty_and_root_prefixes_match_everything() {
    for root in ["", "/"] {
        let r = rules(&[(root, Access::Public)]);
        for path in ["/", "/x", "/x/y", "/publicity"] {
            check_match(&r, path, Some(root));
        }
    }
    let both = rules(&[("", Access::Private), ("/", Access::Public)]);
    check_match(&both, "/x", Some("/"));
}

#[test]
fn longest_prefix_wins() {
    let r = rules(&[
        ("", Access::Private),
        ("/public", Access::Public),
        ("/public/admin", Access::Private),
        ("/public/admin/", Access::Peer),
    ]);
    check_match(&r, "/", Some(""));
    check_match(&r, "/publicity", Some(""));
    check_match(&r, "/public/x", Some("/public"));
    check_match(&r, "/public/admin", Some("/public/admin"));
    check_match(&r, "/public/adminx", Some("/public"));
    check_match(&r, "/public/admin/x", Some("/public/admin/"));
    // The order of the input does not matter.
    let reversed = rules(&[
        ("/public/admin/", Access::Peer),
        ("/public/admin", Access::Private),
        ("/public", Access::Public),
        ("", Access::Private),
    ]);
    assert_eq!(reversed, r);
}

#[test]
fn refused_request_paths() {
    use RequestPathError::*;
    let r = rules(&[("", Access::Public)]);
    for (path, error) in [
        ("", NotAbsolute),
        ("public", NotAbsolute),
        ("*", NotAbsolute),
        ("/public/../private", DotSegment),
        ("/..", DotSegment),
        ("/public/..;/private", DotSegment),
        ("/a..b", DotSegment),
        ("/./private", DotSegment),
        ("/public/.", DotSegment),
        ("/public/.;x/y", DotSegment),
        ("//private", EmptySegment),
        ("/public//x", EmptySegment),
        ("/public%2fx", ForbiddenEncoding),
        ("/public%2F..%2Fprivate", ForbiddenEncoding),
        ("/public/%2e%2e/private", ForbiddenEncoding),
        ("/%2E", ForbiddenEncoding),
        ("/%70rivate", ForbiddenEncoding),
        ("/public%5cx", ForbiddenEncoding),
        ("/public%3Bx", ForbiddenEncoding),
        ("/public%252e", ForbiddenEncoding),
        ("/public%00", ForbiddenEncoding),
        ("/public%0a", ForbiddenEncoding),
        ("/x%", MalformedEncoding),
        ("/x%2", MalformedEncoding),
        ("/x%zz", MalformedEncoding),
        ("/x%%41", MalformedEncoding),
        ("/public\\..\\private", ForbiddenCharacter),
        ("/public x", ForbiddenCharacter),
        ("/public\0", ForbiddenCharacter),
        ("/public\n", ForbiddenCharacter),
        ("/public?x", ForbiddenCharacter),
        ("/public#x", ForbiddenCharacter),
        ("/publïc", ForbiddenCharacter),
    ] {
        assert_eq!(r.match_path(path), Err(error), "path {path:?}");
        let decision = decide_gateway_request(&r, path, &terminal());
        assert_eq!(decision.reason(), GatewayReason::RejectedPath(error));
        assert!(!decision.allowed());
    }
    let long = format!("/{}", "a".repeat(MAX_REQUEST_PATH_LEN));
    assert_eq!(r.match_path(&long), Err(TooLong));
}

#[test]
fn harmless_encodings_pass() {
    let r = rules(&[("/files", Access::Public)]);
    for path in [
        "/files/a%20b",
        "/files/%C3%A9t%C3%A9",
        "/files/a%3Fb",
        "/files/a%40b",
        "/files/a.b",
        "/files/.well-known",
    ] {
        check_match(&r, path, Some("/files"));
    }
}

#[test]
fn invalid_prefixes_are_refused() {
    let make = |prefix: &str| PathRules::new([(prefix.to_owned(), Access::Public)]);
    assert_eq!(
        make("public"),
        Err(PathRuleError::NotAbsolute("public".into()))
    );
    assert_eq!(
        make("/a%2f"),
        Err(PathRuleError::ForbiddenCharacter("/a%2f".into()))
    );
    assert_eq!(
        make("/a;b"),
        Err(PathRuleError::ForbiddenCharacter("/a;b".into()))
    );
    assert_eq!(
        make("/a b"),
        Err(PathRuleError::ForbiddenCharacter("/a b".into()))
    );
    assert_eq!(
        make("/a/../b"),
        Err(PathRuleError::DotSegment("/a/../b".into()))
    );
    assert_eq!(make("/./b"), Err(PathRuleError::DotSegment("/./b".into())));
    assert_eq!(make("//a"), Err(PathRuleError::EmptySegment("//a".into())));
    assert_eq!(
        PathRules::new([
            ("/a".to_owned(), Access::Public),
            ("/a".to_owned(), Access::Private)
        ]),
        Err(PathRuleError::Duplicate("/a".into()))
    );
    assert_eq!(
        make("public").unwrap_err().to_string(),
        "path prefix `public` must be empty or start with `/`"
    );
    for ok in ["", "/", "/a/", "/a-b_c.d~e", "/api/v1:x@y", "/.well-known"] {
        assert!(make(ok).is_ok(), "{ok}");
    }
}

fn terminal() -> Caller {
    Caller::Terminal {
        id: "t1".into(),
        name: "phone".into(),
    }
}

fn peer() -> Caller {
    Caller::Peer {
        id: "abc123".into(),
    }
}

#[test]
fn access_table_both_sides() {
    use GatewayReason::*;
    let expected = [
        (Access::Public, Caller::Anonymous, PublicPath),
        (Access::Public, terminal(), PublicPath),
        (Access::Public, peer(), PublicPath),
        (Access::Private, Caller::Anonymous, Unauthenticated),
        (Access::Private, terminal(), Terminal),
        (Access::Private, peer(), PeerForbidden),
        (Access::Peer, Caller::Anonymous, Unauthenticated),
        (Access::Peer, terminal(), Terminal),
        (Access::Peer, peer(), Peer),
    ];
    assert_eq!(expected.len(), Access::ALL.len() * 3);
    for (access, caller, reason) in expected {
        let decision = decide_gateway(access, &caller);
        assert_eq!(decision.reason(), reason, "{access} {caller:?}");
        assert_eq!(
            decision.allowed(),
            matches!(reason, PublicPath | Terminal | Peer)
        );
    }
}

#[test]
fn no_rule_means_private() {
    let r = rules(&[("/public", Access::Public)]);
    assert!(decide_gateway_request(&r, "/public/x", &Caller::Anonymous).allowed());
    let decision = decide_gateway_request(&r, "/publicity", &Caller::Anonymous);
    assert_eq!(decision.reason(), GatewayReason::Unauthenticated);
    assert!(decide_gateway_request(&r, "/publicity", &terminal()).allowed());
    assert_eq!(
        decide_gateway_request(&r, "/publicity", &peer()).reason(),
        GatewayReason::PeerForbidden
    );
    let none: PathRules = rules(&[]);
    assert!(!decide_gateway_request(&none, "/", &Caller::Anonymous).allowed());
}

#[test]
fn rules_carry_more_than_access() {
    #[derive(Debug)]
    struct WithHeaders {
        access: Access,
        headers: Vec<(&'static str, &'static str)>,
    }
    impl RuleAccess for WithHeaders {
        fn access(&self) -> Access {
            self.access
        }
    }
    let r = PathRules::new([(
        "/api".to_owned(),
        WithHeaders {
            access: Access::Public,
            headers: vec![("X-Ptl-Client-Type", "public")],
        },
    )])
    .unwrap();
    let rule = r.match_path("/api/x").unwrap().unwrap();
    assert_eq!(rule.value().headers.len(), 1);
    assert!(decide_gateway_request(&r, "/api/x", &Caller::Anonymous).allowed());
}

#[test]
fn keywords_and_client_types() {
    for access in Access::ALL {
        assert_eq!(access.to_string().parse::<Access>(), Ok(*access));
    }
    assert!("Public".parse::<Access>().is_err());
    assert_eq!(Caller::Anonymous.client_type(), "public");
    assert_eq!(terminal().client_type(), "terminal");
    assert_eq!(peer().client_type(), "peer");
}

#[test]
fn a_redirect_after_sign_in_stays_on_this_host() {
    assert_eq!(local_redirect_path(Some("/a/b?c=d")), "/a/b?c=d");
    for bad in [
        "//evil.example/",
        "http://evil.example/",
        "/\\evil",
        "a",
        "/x\ny",
    ] {
        assert_eq!(local_redirect_path(Some(bad)), "/", "{bad:?}");
    }
    assert_eq!(local_redirect_path(None), "/");
}
