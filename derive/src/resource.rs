//! `#[derive(CustomResource)]`: reads `#[resource(...)]` on a spec struct and generates the
//! resource type, its k8s-openapi traits, serde impls, `new` and `crd()`, plus the spec's
//! `JsonSchema` impl.

use proc_macro2::TokenStream;
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::{Data, DeriveInput, Ident, LitBool, LitStr, Path, Result, Token, Type};

use crate::schema;

const RESOURCE_KEYS: &str = "group, version, kind, plural, singular, namespaced, status, \
     shortname, category, printcolumn(...), scale(...), served, storage, deprecated, \
     deprecation_warning, derive, crate";

struct Column {
    name: String,
    type_: String,
    json_path: String,
    description: Option<String>,
    format: Option<String>,
    priority: Option<i32>,
}

struct Scale {
    spec_replicas_path: String,
    status_replicas_path: String,
    label_selector_path: Option<String>,
}

/// The `#[resource(...)]` attribute.
struct ResourceAttrs {
    group: Option<LitStr>,
    version: Option<LitStr>,
    kind: Option<LitStr>,
    plural: Option<String>,
    singular: Option<String>,
    namespaced: bool,
    status: Option<Type>,
    short_names: Vec<String>,
    categories: Vec<String>,
    columns: Vec<Column>,
    scale: Option<Scale>,
    served: bool,
    storage: bool,
    deprecated: bool,
    deprecation_warning: Option<String>,
    derives: Vec<Path>,
    krate: Path,
}

fn flag(meta: &ParseNestedMeta) -> Result<bool> {
    if meta.input.peek(Token![=]) {
        Ok(meta.value()?.parse::<LitBool>()?.value)
    } else {
        Ok(true)
    }
}

fn string(meta: &ParseNestedMeta) -> Result<String> {
    Ok(meta.value()?.parse::<LitStr>()?.value())
}

fn json_path(meta: &ParseNestedMeta, key: &str) -> Result<String> {
    let lit = meta.value()?.parse::<LitStr>()?;
    let path = lit.value();
    if !path.starts_with('.') {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{key}` is a JSON path starting with `.`, like \".spec.replicas\""),
        ));
    }
    Ok(path)
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl ResourceAttrs {
    fn parse(input: &DeriveInput) -> Result<Self> {
        let mut out = ResourceAttrs {
            group: None,
            version: None,
            kind: None,
            plural: None,
            singular: None,
            namespaced: false,
            status: None,
            short_names: Vec::new(),
            categories: Vec::new(),
            columns: Vec::new(),
            scale: None,
            served: true,
            storage: true,
            deprecated: false,
            deprecation_warning: None,
            derives: Vec::new(),
            krate: syn::parse_quote!(::k8s_client),
        };
        let attrs: Vec<_> = input
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("resource"))
            .collect();
        if attrs.is_empty() {
            return Err(syn::Error::new(
                input.ident.span(),
                "#[derive(CustomResource)] needs #[resource(group = \"...\", version = \"...\", kind = \"...\")]",
            ));
        }
        for attr in attrs {
            attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                match key.as_str() {
                    "group" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        let g = lit.value();
                        if !g.contains('.') || !g.split('.').all(is_dns_label_or_digits) {
                            return Err(syn::Error::new(
                                lit.span(),
                                "`group` is a DNS subdomain with at least one dot, like \"example.com\"",
                            ));
                        }
                        out.group = Some(lit);
                    }
                    "version" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        if !is_dns_label(&lit.value()) {
                            return Err(syn::Error::new(
                                lit.span(),
                                "`version` is a lowercase DNS label, like \"v1\" or \"v1beta1\"",
                            ));
                        }
                        out.version = Some(lit);
                    }
                    "kind" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        let k = lit.value();
                        if !k.starts_with(|c: char| c.is_ascii_uppercase())
                            || !k.chars().all(|c| c.is_ascii_alphanumeric())
                        {
                            return Err(syn::Error::new(
                                lit.span(),
                                "`kind` is a CamelCase identifier starting with an uppercase letter, like \"Website\"",
                            ));
                        }
                        out.kind = Some(lit);
                    }
                    "plural" | "singular" | "shortname" | "category" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        if !is_dns_label(&lit.value()) {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!("`{key}` is a lowercase DNS label, like \"websites\""),
                            ));
                        }
                        let v = lit.value();
                        match key.as_str() {
                            "plural" => out.plural = Some(v),
                            "singular" => out.singular = Some(v),
                            "shortname" => out.short_names.push(v),
                            _ => out.categories.push(v),
                        }
                    }
                    "namespaced" => out.namespaced = flag(&meta)?,
                    "served" => out.served = flag(&meta)?,
                    "storage" => out.storage = flag(&meta)?,
                    "deprecated" => out.deprecated = flag(&meta)?,
                    "deprecation_warning" => {
                        out.deprecated = true;
                        out.deprecation_warning = Some(string(&meta)?);
                    }
                    "status" => out.status = Some(meta.value()?.parse::<LitStr>()?.parse()?),
                    "derive" => out.derives.push(meta.value()?.parse::<LitStr>()?.parse()?),
                    "crate" => out.krate = meta.value()?.parse::<LitStr>()?.parse()?,
                    "printcolumn" => out.columns.push(parse_column(&meta)?),
                    "scale" => {
                        let mut spec = None;
                        let mut status = None;
                        let mut selector = None;
                        meta.parse_nested_meta(|inner| {
                            if inner.path.is_ident("spec_replicas_path") {
                                spec = Some(json_path(&inner, "spec_replicas_path")?);
                            } else if inner.path.is_ident("status_replicas_path") {
                                status = Some(json_path(&inner, "status_replicas_path")?);
                            } else if inner.path.is_ident("label_selector_path") {
                                selector = Some(json_path(&inner, "label_selector_path")?);
                            } else {
                                return Err(inner.error(
                                    "unknown key in scale(...): expected spec_replicas_path, \
                                     status_replicas_path, label_selector_path",
                                ));
                            }
                            Ok(())
                        })?;
                        match (spec, status) {
                            (Some(spec_replicas_path), Some(status_replicas_path)) => {
                                out.scale = Some(Scale {
                                    spec_replicas_path,
                                    status_replicas_path,
                                    label_selector_path: selector,
                                })
                            }
                            _ => {
                                return Err(meta.error(
                                    "scale(...) needs spec_replicas_path and status_replicas_path",
                                ))
                            }
                        }
                    }
                    _ => {
                        return Err(meta.error(format!(
                            "unknown key `{key}` in #[resource]: expected one of {RESOURCE_KEYS}"
                        )))
                    }
                }
                Ok(())
            })?;
        }
        for (value, name) in [
            (&out.group, "group = \"example.com\""),
            (&out.version, "version = \"v1\""),
            (&out.kind, "kind = \"Website\""),
        ] {
            if value.is_none() {
                return Err(syn::Error::new(
                    input.ident.span(),
                    format!("#[resource(...)] needs `{name}`"),
                ));
            }
        }
        if out.scale.is_some() && out.status.is_none() {
            return Err(syn::Error::new(
                input.ident.span(),
                "#[resource(scale(...))] needs a status: add `status = \"YourStatus\"`",
            ));
        }
        Ok(out)
    }
}

/// One label of a DNS subdomain (may start with a digit, unlike a DNS-1035 label).
fn is_dns_label_or_digits(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn parse_column(meta: &ParseNestedMeta) -> Result<Column> {
    let mut name = None;
    let mut type_ = None;
    let mut path = None;
    let mut description = None;
    let mut format = None;
    let mut priority = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            name = Some(string(&inner)?);
        } else if inner.path.is_ident("type") || inner.path.is_ident("type_") {
            let lit: LitStr = inner.value()?.parse()?;
            const TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];
            if !TYPES.contains(&lit.value().as_str()) {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("printcolumn `type` is one of {TYPES:?}"),
                ));
            }
            type_ = Some(lit.value());
        } else if inner.path.is_ident("json_path") {
            path = Some(json_path(&inner, "json_path")?);
        } else if inner.path.is_ident("description") {
            description = Some(string(&inner)?);
        } else if inner.path.is_ident("format") {
            format = Some(string(&inner)?);
        } else if inner.path.is_ident("priority") {
            priority = Some(
                inner
                    .value()?
                    .parse::<syn::LitInt>()?
                    .base10_parse::<i32>()?,
            );
        } else {
            return Err(inner.error(
                "unknown key in printcolumn(...): expected name, type, json_path, description, \
                 format, priority",
            ));
        }
        Ok(())
    })?;
    match (name, type_, path) {
        (Some(name), Some(type_), Some(json_path)) => Ok(Column {
            name,
            type_,
            json_path,
            description,
            format,
            priority,
        }),
        _ => Err(meta.error("printcolumn(...) needs name, type and json_path")),
    }
}

fn opt_str(value: &Option<String>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// `kind` in lower case, plural by English rules good enough for kinds.
fn plural_of(singular: &str) -> String {
    if let Some(stem) = singular.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            return format!("{stem}ies");
        }
    }
    if singular.ends_with('s')
        || singular.ends_with('x')
        || singular.ends_with('z')
        || singular.ends_with("ch")
        || singular.ends_with("sh")
    {
        return format!("{singular}es");
    }
    format!("{singular}s")
}

/// Everything `#[derive(CustomResource)]` generates for `input`.
pub fn derive(input: &DeriveInput) -> Result<TokenStream> {
    let attrs = ResourceAttrs::parse(input)?;
    let Data::Struct(_) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(CustomResource)] goes on the spec struct (an enum or union cannot be a spec)",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(CustomResource)] does not support generic spec structs",
        ));
    }
    let krate = &attrs.krate;
    let p = quote!(#krate::custom_resource::__private);
    let spec_schema = schema::derive(input, krate)?;

    let (Some(group), Some(version), Some(kind)) = (&attrs.group, &attrs.version, &attrs.kind)
    else {
        unreachable!("checked by ResourceAttrs::parse")
    };
    let (group, version, kind_lit) = (group.value(), version.value(), kind.value());
    let name = Ident::new(&kind_lit, kind.span());
    if name == input.ident {
        return Err(syn::Error::new(
            input.ident.span(),
            format!(
                "the spec struct must not be named like the kind {kind_lit:?}: the derive \
                 generates the struct `{kind_lit}` (name the spec `{kind_lit}Spec`)"
            ),
        ));
    }
    let spec = &input.ident;
    let vis = &input.vis;
    let singular = attrs
        .singular
        .clone()
        .unwrap_or_else(|| kind_lit.to_ascii_lowercase());
    let plural = attrs.plural.clone().unwrap_or_else(|| plural_of(&singular));
    let api_version = format!("{group}/{version}");
    let list_kind = format!("{kind_lit}List");
    let scope = if attrs.namespaced {
        quote!(#p::k8s_openapi::NamespaceResourceScope)
    } else {
        quote!(#p::k8s_openapi::ClusterResourceScope)
    };
    let derives = &attrs.derives;
    let doc = format!(
        "The custom resource `{kind_lit}` (`{api_version}`, {}), generated by \
         `#[derive(CustomResource)]` from [`{spec}`]. Its definition is [`{kind_lit}::crd`].",
        if attrs.namespaced {
            "namespaced"
        } else {
            "cluster-scoped"
        }
    );

    let (status_field, status_init, status_ser, status_de_ty, status_de, status_schema) =
        match &attrs.status {
            Some(status) => (
                quote! {
                    /// The observed state, written through the status subresource.
                    pub status: ::core::option::Option<#status>,
                },
                quote!(status: ::core::option::Option::None,),
                quote!(self.status.as_ref()),
                quote!(#status),
                quote!(status: __parts.status,),
                quote!(::core::option::Option::Some(
                    <#status as #krate::custom_resource::JsonSchema>::schema()
                )),
            ),
            None => (
                quote!(),
                quote!(),
                quote!(::core::option::Option::<&()>::None),
                quote!(#p::serde::de::IgnoredAny),
                quote!(),
                quote!(::core::option::Option::None),
            ),
        };

    let columns = attrs.columns.iter().map(|c| {
        let (n, t, j) = (&c.name, &c.type_, &c.json_path);
        let d = opt_str(&c.description);
        let f = opt_str(&c.format);
        let pr = match c.priority {
            Some(v) => quote!(::core::option::Option::Some(#v)),
            None => quote!(::core::option::Option::None),
        };
        quote!(#p::column(#n, #t, #j, #d, #f, #pr))
    });
    let scale = match &attrs.scale {
        Some(s) => {
            let (a, b) = (&s.spec_replicas_path, &s.status_replicas_path);
            let c = opt_str(&s.label_selector_path);
            quote!(::core::option::Option::Some((#a, #b, #c)))
        }
        None => quote!(::core::option::Option::None),
    };
    let short_names = &attrs.short_names;
    let categories = &attrs.categories;
    let namespaced = attrs.namespaced;
    let served = attrs.served;
    let storage = attrs.storage;
    let deprecated = attrs.deprecated;
    let deprecation_warning = opt_str(&attrs.deprecation_warning);
    let crd_name = format!("{plural}.{group}");
    let new_doc = format!("A new `{kind_lit}` named `name` with `spec` and no status.");
    let crd_doc = format!(
        "The CustomResourceDefinition `{crd_name}` of this version (`{version}`), with the \
         structural OpenAPI v3 schema derived from [`{spec}`]. Merge several versions with \
         `merge_crds`."
    );

    Ok(quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug #(, #derives)*)]
        #vis struct #name {
            /// Standard object metadata.
            pub metadata: #p::ObjectMeta,
            /// The desired state.
            pub spec: #spec,
            #status_field
        }

        impl #name {
            #[doc = #new_doc]
            pub fn new(name: &str, spec: #spec) -> Self {
                #name {
                    metadata: #p::ObjectMeta {
                        name: ::core::option::Option::Some(::std::string::ToString::to_string(name)),
                        ..::core::default::Default::default()
                    },
                    spec,
                    #status_init
                }
            }

            #[doc = #crd_doc]
            pub fn crd() -> #p::CustomResourceDefinition {
                #p::crd(
                    #p::CrdInfo {
                        group: #group,
                        version: #version,
                        kind: #kind_lit,
                        plural: #plural,
                        singular: #singular,
                        namespaced: #namespaced,
                        short_names: &[#(#short_names),*],
                        categories: &[#(#categories),*],
                        served: #served,
                        storage: #storage,
                        deprecated: #deprecated,
                        deprecation_warning: #deprecation_warning,
                        columns: ::std::vec![#(#columns),*],
                        scale: #scale,
                    },
                    <#spec as #krate::custom_resource::JsonSchema>::schema(),
                    #status_schema,
                )
            }
        }

        impl #p::k8s_openapi::Resource for #name {
            const API_VERSION: &'static str = #api_version;
            const GROUP: &'static str = #group;
            const KIND: &'static str = #kind_lit;
            const VERSION: &'static str = #version;
            const URL_PATH_SEGMENT: &'static str = #plural;
            type Scope = #scope;
        }

        impl #p::k8s_openapi::ListableResource for #name {
            const LIST_KIND: &'static str = #list_kind;
        }

        impl #p::k8s_openapi::Metadata for #name {
            type Ty = #p::ObjectMeta;
            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl #p::serde::Serialize for #name {
            fn serialize<S: #p::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                #p::serialize(serializer, #api_version, #kind_lit, &self.metadata, &self.spec, #status_ser)
            }
        }

        impl<'de> #p::serde::Deserialize<'de> for #name {
            fn deserialize<D: #p::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                #[allow(unused_variables)]
                let __parts = #p::deserialize::<D, #spec, #status_de_ty>(deserializer, #api_version, #kind_lit)?;
                ::core::result::Result::Ok(#name {
                    metadata: __parts.metadata,
                    spec: __parts.spec,
                    #status_de
                })
            }
        }

        #spec_schema
    })
}

#[cfg(test)]
mod tests {
    use super::plural_of;

    #[test]
    fn plurals() {
        assert_eq!(plural_of("website"), "websites");
        assert_eq!(plural_of("policy"), "policies");
        assert_eq!(plural_of("gateway"), "gateways");
        assert_eq!(plural_of("ingress"), "ingresses");
        assert_eq!(plural_of("box"), "boxes");
        assert_eq!(plural_of("patch"), "patches");
    }
}
