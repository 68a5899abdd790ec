//! Tests of template checking and rendering.

use super::*;
use expect_test::{expect, Expect};

const ENV: Scope = Scope {
    postgres: false,
    header: false,
};
const ENV_PG: Scope = Scope {
    postgres: true,
    header: false,
};
const HEADER: Scope = Scope {
    postgres: false,
    header: true,
};

fn context() -> BTreeMap<Variable, String> {
    let mut ctx = BTreeMap::new();
    ctx.insert(Variable::PortalId, "abcdefghijklmnop".to_owned());
    ctx.insert(Variable::PortalShortId, "abcdef".to_owned());
    ctx.insert(Variable::PortalDomain, "abcdef.berth.example".to_owned());
    ctx.insert(Variable::PostgresUser, "app_paperless_ngx".to_owned());
    ctx.insert(Variable::AuthClientName, "Mäx's phone".to_owned());
    ctx
}

/// Compiles in `scope`, then shows the canonical form and the rendering, or the errors.
fn check(source: &str, scope: Scope, expect: Expect) {
    let actual = match Template::compile(source, scope) {
        Ok(template) => {
            let canonical = template.to_string();
            assert_eq!(Template::compile(&canonical, scope), Ok(template.clone()));
            let rendered = match template.render(&context()) {
                Ok(s) => s,
                Err(e) => format!("error: {e}"),
            };
            format!("{canonical}\n{rendered}")
        }
        Err(errors) => errors.join("\n"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn literal_text_renders_as_is() {
    check(
        "plain value } {",
        ENV,
        expect![[r#"
        plain value } {
        plain value } {"#]],
    );
}

#[test]
fn portal_variables_with_slices() {
    check(
        "{{portal.id[:6]}}.{{ portal[\"domain\"] }}",
        ENV,
        expect![[r#"
        {{ portal.id[:6] }}.{{ portal.domain }}
        abcdef.abcdef.berth.example"#]],
    );
    check(
        "{{ portal.id[-3:] }}|{{ portal.id[2:4] }}|{{ portal.id[:-14] }}",
        ENV,
        expect![[r#"
        {{ portal.id[-3:] }}|{{ portal.id[2:4] }}|{{ portal.id[:-14] }}
        nop|cd|ab"#]],
    );
    check(
        "{{ portal.id[10:2] }}|{{ portal.id[-100:100] }}|{{ portal.id[1:][:2] }}",
        ENV,
        expect![[r#"
        {{ portal.id[10:2] }}|{{ portal.id[-100:100] }}|{{ portal.id[1:][:2] }}
        |abcdefghijklmnop|bc"#]],
    );
}

#[test]
fn slices_count_characters_not_bytes() {
    check(
        "{{ auth.client_name[:4] }}",
        HEADER,
        expect![[r#"
        {{ auth.client_name[:4] }}
        Mäx'"#]],
    );
}

#[test]
fn missing_value_is_an_error_not_an_empty_string() {
    check(
        "x={{ portal.name }}",
        ENV,
        expect![[r#"
        x={{ portal.name }}
        error: template variable `portal.name` has no value"#]],
    );
}

#[test]
fn unknown_variables_are_refused() {
    check(
        "{{ portal.idd }} {{ client_id }} {{ fs }}",
        ENV,
        expect![[r#"
        unknown template variable `portal.idd`
        unknown template variable `client_id`
        unknown template variable `fs`"#]],
    );
    check(
        r#"{{ apps["other-app"].postgres.user }}"#,
        ENV_PG,
        expect!["unknown template variable `apps.other-app.postgres.user`"],
    );
    check(
        "{{ portal.id[:6].x }}",
        ENV,
        expect!["cannot look up `x` in a slice of a string"],
    );
    check(
        "{{ portal.id.x }}",
        ENV,
        expect!["unknown template variable `portal.id.x`"],
    );
}

#[test]
fn postgres_variables_need_the_service() {
    check(
        "{{ postgres.user }}",
        ENV,
        expect!["template variable `postgres.user` needs the `postgres` service"],
    );
    check(
        "{{ postgres.user }}",
        ENV_PG,
        expect![[r#"
        {{ postgres.user }}
        app_paperless_ngx"#]],
    );
    check(
        "{{ postgres.nope }}",
        ENV_PG,
        expect!["unknown template variable `postgres.nope`"],
    );
}

#[test]
fn auth_variables_only_in_headers_and_only_they() {
    check(
        "{{ auth.client_id }}",
        ENV,
        expect!["template variable `auth.client_id` is only available in path headers"],
    );
    check(
        "{{ portal.id }} {{ auth.client_id }} {{ fs.app_data }}",
        HEADER,
        expect![[r#"
        template variable `portal.id` is not available in path headers, only `auth.client_id`, `auth.client_name` and `auth.client_type` are
        template variable `fs.app_data` is not available in path headers, only `auth.client_id`, `auth.client_name` and `auth.client_type` are"#]],
    );
    check(
        "{{ auth.client_type }}",
        HEADER,
        expect![[r#"
        {{ auth.client_type }}
        error: template variable `auth.client_type` has no value"#]],
    );
}

#[test]
fn syntax_errors_are_reported_alone() {
    check(
        "{{ portal.id | upper }} {{ nope }}",
        ENV,
        expect!["template syntax error at character 14: template filters `|` are not supported"],
    );
}

#[test]
fn every_variable_has_a_distinct_path() {
    for v in Variable::ALL {
        let (group, field) = v.path();
        assert_eq!(Variable::from_path(group, field), Some(v));
        let scope = Scope {
            postgres: true,
            header: v.is_per_request(),
        };
        let t = Template::compile(&format!("{{{{ {v} }}}}"), scope).unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), vec![v]);
    }
}

#[test]
fn hash_map_context() {
    let t = Template::compile("{{ fs.app_data }}/x", ENV).unwrap();
    let mut ctx = HashMap::new();
    ctx.insert(Variable::FsAppData, "/srv/berth/apps/a".to_owned());
    assert_eq!(t.render(&ctx).unwrap(), "/srv/berth/apps/a/x");
}
