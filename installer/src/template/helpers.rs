//! Handlebars helpers that turn values into YAML text that cannot change the template's shape.
//!
//! Every value that comes from `bucketdrive.yaml` reaches the template through one of these:
//!
//! - `{{yaml x}}`: a string as a double-quoted scalar (JSON string syntax, which is YAML), a
//!   number or boolean as itself. Quotes, colons, `#`, `!Ref`, newlines and unicode stay data.
//! - `{{flow x}}`: any JSON value (lists, maps, `{"Ref": …}` intrinsics) as a single-line YAML
//!   flow collection whose strings and keys are quoted the same way.
//! - `{{id x}}`: a logical ID computed in Rust; refuses anything but ASCII letters and digits.
//!
//! The registry's escape function is [`quote`] as well, so a plain `{{x}}` is also a quoted
//! scalar; the templates never use the raw triple-stash.

use std::fmt::Write as _;

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, JsonValue, Output, RenderContext,
    RenderError, RenderErrorReason,
};

/// A string as a YAML double-quoted scalar that round-trips exactly.
///
/// The escapes are the common subset of JSON and YAML (`\"`, `\\`, `\n`, `\t`, `\r`, `\uXXXX`).
/// Beyond what JSON requires, every character YAML parsers refuse to read raw is escaped too:
/// all C0/C1 controls and DEL, the line and paragraph separators, the BOM and the two
/// non-characters U+FFFE/U+FFFF.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                // `char::is_control` covers U+0000..U+001F and U+007F..U+009F, all in the BMP.
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON value as a YAML flow node on one line: strings quoted with [`quote`], numbers and
/// booleans as themselves, `null` as `null`.
pub fn flow(v: &JsonValue) -> String {
    let mut out = String::new();
    write_flow(v, &mut out);
    out
}

fn write_flow(v: &JsonValue, out: &mut String) {
    match v {
        JsonValue::Null => out.push_str("null"),
        JsonValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JsonValue::Number(n) => out.push_str(&n.to_string()),
        JsonValue::String(s) => out.push_str(&quote(s)),
        JsonValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(item, out);
            }
            out.push(']');
        }
        JsonValue::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote(k));
                out.push_str(": ");
                write_flow(item, out);
            }
            out.push('}');
        }
    }
}

/// Whether `s` may be written as a logical ID: 1 to 255 ASCII letters and digits.
pub fn is_logical_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn param<'a>(h: &'a Helper<'_>, name: &'static str) -> Result<&'a JsonValue, RenderError> {
    let p = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex(name, 0))?;
    if p.is_value_missing() {
        return Err(RenderErrorReason::MissingVariable(p.relative_path().cloned()).into());
    }
    if h.params().len() != 1 {
        return Err(
            RenderErrorReason::Other(format!("helper `{name}` takes exactly one value")).into(),
        );
    }
    Ok(p.value())
}

/// `{{yaml x}}`: a scalar.
struct Yaml;

impl HelperDef for Yaml {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let text = match param(h, "yaml")? {
            v @ (JsonValue::String(_) | JsonValue::Number(_) | JsonValue::Bool(_)) => flow(v),
            _ => {
                return Err(RenderErrorReason::Other(
                    "helper `yaml` takes a string, number or boolean; use `flow` for lists and maps"
                        .to_owned(),
                )
                .into());
            }
        };
        out.write(&text)?;
        Ok(())
    }
}

/// `{{flow x}}`: any value as a flow node.
struct Flow;

impl HelperDef for Flow {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let text = flow(param(h, "flow")?);
        out.write(&text)?;
        Ok(())
    }
}

/// `{{id x}}`: a logical ID, written bare after checking it.
struct Id;

impl HelperDef for Id {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        match param(h, "id")? {
            JsonValue::String(s) if is_logical_id(s) => {
                out.write(s)?;
                Ok(())
            }
            other => Err(RenderErrorReason::Other(format!(
                "`{other}` is not a logical ID (ASCII letters and digits only)"
            ))
            .into()),
        }
    }
}

/// A registry in strict mode (a missing value is an error, not an empty string) whose
/// escape function and helpers emit YAML-safe text.
pub fn registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(quote);
    hb.register_helper("yaml", Box::new(Yaml));
    hb.register_helper("flow", Box::new(Flow));
    hb.register_helper("id", Box::new(Id));
    hb
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn roundtrip(s: &str) -> String {
        let doc = format!("k: {}\n", quote(s));
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&doc).unwrap();
        v["k"].as_str().unwrap().to_owned()
    }

    #[test]
    fn hostile_strings_round_trip_as_one_scalar() {
        for s in [
            "",
            "plain",
            "a: b",
            "\"quoted\" 'single'",
            "line\nbreak\r\n",
            "!Ref Evil",
            "{{resolve:ssm:/x}}",
            "${AWS::AccountId}",
            "# not a comment",
            "- not a list",
            "[1, 2]",
            "{a: 1}",
            "*alias &anchor |",
            "tab\there",
            "\u{0}\u{7}\u{1b}\u{7f}\u{85}\u{9f}",
            "\u{2028}\u{2029}\u{feff}\u{fffe}\u{ffff}",
            "ünïcødé 漢字 🎉",
            "back\\slash\\n",
            "true",
            "null",
            "0x10",
            "~",
        ] {
            assert_eq!(roundtrip(s), s, "{s:?}");
        }
    }

    #[test]
    fn quoted_output_is_one_line_of_printable_text() {
        let q = quote("a\nb\u{85}c\u{2028}");
        assert!(!q.contains('\n'));
        assert!(q.chars().all(|c| !c.is_control()));
        assert_eq!(q, "\"a\\nb\\u0085c\\u2028\"");
    }

    #[test]
    fn flow_nodes_parse_back_to_the_same_value() {
        let v = json!({
            "Key": "a: \"b\"\n",
            "Value": {"Ref": "AWS::StackName"},
            "List": ["x", 1, true, null, {"Fn::Join": ["", ["arn:", "!Ref"]]}],
        });
        let doc = format!("k: {}\n", flow(&v));
        let back: serde_json::Value = serde_yaml_ng::from_str::<serde_json::Value>(&doc).unwrap();
        assert_eq!(back["k"], v);
    }

    #[test]
    fn templates_are_strict_and_escape_by_default() {
        let mut hb = registry();
        hb.register_template_string("t", "a: {{x}}\nb: {{yaml x}}\nc: {{flow l}}\n{{id i}}: 1\n")
            .unwrap();
        let out = hb
            .render("t", &json!({"x": "v: !Ref x", "l": ["p"], "i": "Abc1"}))
            .unwrap();
        assert_eq!(
            out,
            "a: \"v: !Ref x\"\nb: \"v: !Ref x\"\nc: [\"p\"]\nAbc1: 1\n"
        );
        assert!(hb.render("t", &json!({"x": "v"})).is_err(), "missing value");
        assert!(
            hb.render("t", &json!({"x": "v", "l": [], "i": "A-b"}))
                .is_err(),
            "bad id"
        );
    }

    #[test]
    fn yaml_refuses_collections() {
        let mut hb = registry();
        hb.register_template_string("t", "{{yaml l}}").unwrap();
        assert!(hb.render("t", &json!({"l": [1]})).is_err());
    }

    #[test]
    fn logical_ids() {
        assert!(is_logical_id("BucketAcme12ab34cd"));
        assert!(!is_logical_id(""));
        assert!(!is_logical_id("Bucket-x"));
        assert!(!is_logical_id("Bücket"));
        assert!(!is_logical_id(&"a".repeat(256)));
    }
}
