//! Reading the attributes the derives look at: serde's (`rename`, `rename_all`, `default`,
//! `skip`, `skip_serializing_if`, `flatten`, `tag`, `content`, `untagged`, `transparent`)
//! and our `#[schema(...)]` (validation keywords, list and map types, CEL rules).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Lit, LitStr, Path, Result, Token, UnOp};

use crate::case::RenameRule;

/// Consumes the value of a meta item we do not read (`key`, `key = value`, `key(...)`).
fn skip_value(meta: &ParseNestedMeta) -> Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip_value(&inner))?;
    }
    Ok(())
}

/// `key = "value"` or `key(serialize = "value", deserialize = "...")`: the name used when
/// serializing (that is what the server stores).
fn serialize_name(meta: &ParseNestedMeta) -> Result<Option<LitStr>> {
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse()?));
    }
    let mut found = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            found = Some(inner.value()?.parse()?);
        } else {
            skip_value(&inner)?;
        }
        Ok(())
    })?;
    Ok(found)
}

fn rename_rule(meta: &ParseNestedMeta) -> Result<Option<RenameRule>> {
    match serialize_name(meta)? {
        Some(lit) => match RenameRule::parse(&lit.value()) {
            Some(rule) => Ok(Some(rule)),
            None => Err(syn::Error::new(
                lit.span(),
                format!("unknown rename_all rule {:?}", lit.value()),
            )),
        },
        None => Ok(None),
    }
}

/// serde's attributes on a struct or enum.
#[derive(Default)]
pub struct SerdeContainer {
    pub rename_all: Option<RenameRule>,
    pub rename_all_fields: Option<RenameRule>,
    pub default: bool,
    pub tag: Option<String>,
    pub content: Option<String>,
    pub untagged: bool,
    pub transparent: bool,
}

impl SerdeContainer {
    pub fn from_attrs(attrs: &[Attribute]) -> Result<Self> {
        let mut out = SerdeContainer::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename_all") {
                    out.rename_all = rename_rule(&meta)?;
                } else if meta.path.is_ident("rename_all_fields") {
                    out.rename_all_fields = rename_rule(&meta)?;
                } else if meta.path.is_ident("default") {
                    out.default = true;
                    skip_value(&meta)?;
                } else if meta.path.is_ident("tag") {
                    out.tag = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if meta.path.is_ident("content") {
                    out.content = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if meta.path.is_ident("untagged") {
                    out.untagged = true;
                } else if meta.path.is_ident("transparent") {
                    out.transparent = true;
                } else {
                    skip_value(&meta)?;
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// serde's attributes on a field or a variant.
#[derive(Default)]
pub struct SerdeMember {
    pub rename: Option<String>,
    pub rename_all: Option<RenameRule>,
    /// `skip` or `skip_serializing`: never written, so not in the schema.
    pub skip: bool,
    pub default: bool,
    pub skip_serializing_if: bool,
    pub flatten: bool,
}

impl SerdeMember {
    pub fn from_attrs(attrs: &[Attribute]) -> Result<Self> {
        let mut out = SerdeMember::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    out.rename = serialize_name(&meta)?.map(|l| l.value());
                } else if meta.path.is_ident("rename_all") {
                    out.rename_all = rename_rule(&meta)?;
                } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_serializing") {
                    out.skip = true;
                } else if meta.path.is_ident("default") {
                    out.default = true;
                    skip_value(&meta)?;
                } else if meta.path.is_ident("skip_serializing_if") {
                    out.skip_serializing_if = true;
                    skip_value(&meta)?;
                } else if meta.path.is_ident("flatten") {
                    out.flatten = true;
                } else {
                    skip_value(&meta)?;
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// The doc comment of an item, as a schema description.
pub fn doc(attrs: &[Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                let line = s.value();
                lines.push(
                    line.strip_prefix(' ')
                        .unwrap_or(&line)
                        .trim_end()
                        .to_string(),
                );
            }
        }
    }
    let text = lines.join("\n").trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// `#[schema(...)]` on a type or a field: edits of the generated schema.
#[derive(Default)]
pub struct SchemaAttrs {
    /// Statements editing `__s: &mut JSONSchemaProps`.
    pub edits: Vec<TokenStream>,
    /// `with = "path"`: a function giving the whole schema.
    pub with: Option<Path>,
}

fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<f64>().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse::<f64>().ok(),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => number(expr).map(|n| -n),
        _ => None,
    }
}

fn integer(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<i64>().ok().filter(|n| *n >= 0),
        _ => None,
    }
}

fn opt(value: Option<String>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(::std::string::String::from(#v))),
        None => quote!(::core::option::Option::None),
    }
}

const SCHEMA_KEYS: &str = "minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of, \
     pattern, format, min_length, max_length, min_items, max_items, min_properties, \
     max_properties, list_type, list_map_keys, map_type, preserve_unknown_fields, \
     embedded_resource, int_or_string, nullable, validation(...), with, crate";

impl SchemaAttrs {
    pub fn from_attrs(attrs: &[Attribute], krate: &Path) -> Result<Self> {
        let p = quote!(#krate::custom_resource::__private);
        let mut out = SchemaAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("schema")) {
            attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                let edit = match key.as_str() {
                    "minimum" | "maximum" | "multiple_of" => {
                        let expr: Expr = meta.value()?.parse()?;
                        let n = number(&expr).ok_or_else(|| {
                            syn::Error::new_spanned(&expr, format!("`{key}` takes a number"))
                        })?;
                        let field = syn::Ident::new(&key, Span::call_site());
                        quote!(__s.#field = ::core::option::Option::Some(#n);)
                    }
                    "exclusive_minimum" | "exclusive_maximum" | "nullable"
                    | "preserve_unknown_fields" | "embedded_resource" | "int_or_string" => {
                        let value = if meta.input.peek(Token![=]) {
                            meta.value()?.parse::<syn::LitBool>()?.value
                        } else {
                            true
                        };
                        let field = match key.as_str() {
                            "preserve_unknown_fields" => "x_kubernetes_preserve_unknown_fields",
                            "embedded_resource" => "x_kubernetes_embedded_resource",
                            "int_or_string" => "x_kubernetes_int_or_string",
                            other => other,
                        };
                        let field = syn::Ident::new(field, Span::call_site());
                        quote!(__s.#field = ::core::option::Option::Some(#value);)
                    }
                    "min_length" | "max_length" | "min_items" | "max_items"
                    | "min_properties" | "max_properties" => {
                        let expr: Expr = meta.value()?.parse()?;
                        let n = integer(&expr).ok_or_else(|| {
                            syn::Error::new_spanned(
                                &expr,
                                format!("`{key}` takes a non-negative integer"),
                            )
                        })?;
                        let field = syn::Ident::new(&key, Span::call_site());
                        quote!(__s.#field = ::core::option::Option::Some(#n);)
                    }
                    "pattern" | "format" => {
                        let value = meta.value()?.parse::<LitStr>()?.value();
                        let field = syn::Ident::new(&key, Span::call_site());
                        quote!(__s.#field = ::core::option::Option::Some(::std::string::String::from(#value));)
                    }
                    "list_type" | "map_type" => {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        let value = lit.value();
                        let allowed: &[&str] = if key == "list_type" {
                            &["atomic", "set", "map"]
                        } else {
                            &["atomic", "granular"]
                        };
                        if !allowed.contains(&value.as_str()) {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!("`{key}` is one of {allowed:?}, not {value:?}"),
                            ));
                        }
                        let field = syn::Ident::new(
                            &format!("x_kubernetes_{key}"),
                            Span::call_site(),
                        );
                        quote!(__s.#field = ::core::option::Option::Some(::std::string::String::from(#value));)
                    }
                    "list_map_keys" => {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        let keys: Vec<String> = lit
                            .value()
                            .split(',')
                            .map(|k| k.trim().to_string())
                            .filter(|k| !k.is_empty())
                            .collect();
                        if keys.is_empty() {
                            return Err(syn::Error::new(
                                lit.span(),
                                "`list_map_keys` names at least one key: \"name\" or \"name, protocol\"",
                            ));
                        }
                        quote!(__s.x_kubernetes_list_map_keys = ::core::option::Option::Some(
                            ::std::vec![#(::std::string::String::from(#keys)),*]);)
                    }
                    "validation" => {
                        let mut rule = None;
                        let mut fields: [(&str, Option<String>); 4] = [
                            ("message", None),
                            ("message_expression", None),
                            ("reason", None),
                            ("field_path", None),
                        ];
                        let mut optional_old_self = None;
                        meta.parse_nested_meta(|inner| {
                            if inner.path.is_ident("rule") {
                                rule = Some(inner.value()?.parse::<LitStr>()?.value());
                                return Ok(());
                            }
                            if inner.path.is_ident("optional_old_self") {
                                optional_old_self = Some(if inner.input.peek(Token![=]) {
                                    inner.value()?.parse::<syn::LitBool>()?.value
                                } else {
                                    true
                                });
                                return Ok(());
                            }
                            for (name, slot) in fields.iter_mut() {
                                if inner.path.is_ident(name) {
                                    *slot = Some(inner.value()?.parse::<LitStr>()?.value());
                                    return Ok(());
                                }
                            }
                            Err(inner.error(
                                "unknown key in validation(...): expected rule, message, \
                                 message_expression, reason, field_path, optional_old_self",
                            ))
                        })?;
                        let Some(rule) = rule else {
                            return Err(meta.error(
                                "validation(...) needs `rule = \"<CEL expression>\"`",
                            ));
                        };
                        if let Some(reason) = &fields[2].1 {
                            const REASONS: [&str; 4] = [
                                "FieldValueInvalid",
                                "FieldValueForbidden",
                                "FieldValueRequired",
                                "FieldValueDuplicate",
                            ];
                            if !REASONS.contains(&reason.as_str()) {
                                return Err(meta.error(format!(
                                    "validation reason is one of {REASONS:?}, not {reason:?}"
                                )));
                            }
                        }
                        let [message, message_expression, reason, field_path] =
                            fields.map(|(_, v)| opt(v));
                        let optional_old_self = match optional_old_self {
                            Some(b) => quote!(::core::option::Option::Some(#b)),
                            None => quote!(::core::option::Option::None),
                        };
                        quote!(#p::push_rule(__s, #p::ValidationRule {
                            rule: ::std::string::String::from(#rule),
                            message: #message,
                            message_expression: #message_expression,
                            reason: #reason,
                            field_path: #field_path,
                            optional_old_self: #optional_old_self,
                        });)
                    }
                    "crate" => {
                        // Read by `crate_path`.
                        meta.value()?.parse::<LitStr>()?;
                        return Ok(());
                    }
                    "with" => {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        out.with = Some(lit.parse()?);
                        return Ok(());
                    }
                    _ => {
                        return Err(meta.error(format!(
                            "unknown key `{key}` in #[schema]: expected one of {SCHEMA_KEYS}"
                        )))
                    }
                };
                out.edits.push(edit);
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// The path to k8s-client: `#[schema(crate = "...")]` on the type, or `::k8s_client`.
pub fn crate_path(attrs: &[Attribute]) -> Result<Path> {
    let mut krate: Path = syn::parse_quote!(::k8s_client);
    for attr in attrs.iter().filter(|a| a.path().is_ident("schema")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                krate = meta.value()?.parse::<LitStr>()?.parse()?;
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        })?;
    }
    Ok(krate)
}
