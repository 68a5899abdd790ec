//! Tests of the peer signature profile: what verifies, and every way it
//! must not.

use super::*;

const NOW: i64 = 1_800_000_000;

fn target() -> Target<'static> {
    Target {
        method: "POST",
        authority: "127.0.0.1:8080",
        path: "/peer/whoami",
        query: Some("a=1"),
    }
}

fn signed(key: &IdentityKey, body: &[u8]) -> SignedHeaders {
    sign_request(key, &target(), body, NOW, &new_nonce())
}

fn parse(h: &SignedHeaders, t: &Target<'_>) -> Result<ParsedSignature, SignatureError> {
    parse_signature(
        &SignatureHeaders {
            signature_input: &h.signature_input,
            signature: &h.signature,
            content_digest: &h.content_digest,
        },
        t,
    )
}

#[test]
fn a_signed_request_verifies_and_binds_its_body() {
    let k = IdentityKey::generate();
    let h = signed(&k, b"{}");
    let p = parse(&h, &target()).unwrap();
    assert_eq!(p.keyid, k.id());
    p.verify(&k.public_bytes(), NOW + 60).unwrap();
    p.body_digest.check(b"{}").unwrap();
    assert_eq!(
        p.body_digest.check(b"{ }"),
        Err(SignatureError::DigestMismatch)
    );
}

#[test]
fn every_signed_component_is_bound() {
    let k = IdentityKey::generate();
    let h = signed(&k, b"");
    let variants = [
        Target {
            method: "GET",
            ..target()
        },
        Target {
            authority: "127.0.0.1:8081",
            ..target()
        },
        Target {
            path: "/peer/other",
            ..target()
        },
        Target {
            query: None,
            ..target()
        },
        Target {
            query: Some("a=2"),
            ..target()
        },
    ];
    for t in variants {
        let p = parse(&h, &t).unwrap();
        assert_eq!(
            p.verify(&k.public_bytes(), NOW),
            Err(SignatureError::BadSignature),
            "{t:?}"
        );
    }
    let mut other_digest = h.clone();
    other_digest.content_digest = content_digest(b"x");
    let p = parse(&other_digest, &target()).unwrap();
    assert_eq!(
        p.verify(&k.public_bytes(), NOW),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn wrong_keys_and_stale_or_future_signatures_are_refused() {
    let k = IdentityKey::generate();
    let h = signed(&k, b"");
    let p = parse(&h, &target()).unwrap();
    let other = IdentityKey::generate();
    assert_eq!(
        p.verify(&other.public_bytes(), NOW),
        Err(SignatureError::BadSignature)
    );
    assert_eq!(
        p.verify(&k.public_bytes(), NOW + 61),
        Err(SignatureError::OutsideWindow)
    );
    assert_eq!(
        p.verify(&k.public_bytes(), NOW - 61),
        Err(SignatureError::OutsideWindow)
    );
}

#[test]
fn only_the_canonical_profile_parses() {
    let k = IdentityKey::generate();
    let h = signed(&k, b"");
    let edits: [(&str, &str); 5] = [
        ("sig1=", "sig2="),
        (r#""@query" "#, ""),
        (r#"alg="ed25519""#, r#"alg="rsa-pss-sha512""#),
        (";created=", ";created=0"),
        ("\";alg", "\" ;alg"),
    ];
    for (from, to) in edits {
        let mut bad = h.clone();
        bad.signature_input = bad.signature_input.replacen(from, to, 1);
        assert_eq!(
            parse(&bad, &target()),
            Err(SignatureError::MalformedInput),
            "{from} -> {to}"
        );
    }
    let mut bad = h.clone();
    bad.signature = bad.signature.replace("sig1=:", "sig1=");
    assert_eq!(
        parse(&bad, &target()),
        Err(SignatureError::MalformedSignature)
    );
    let mut bad = h;
    bad.content_digest = bad.content_digest.replace("sha-256", "sha-512");
    assert_eq!(parse(&bad, &target()), Err(SignatureError::MalformedDigest));
}
