//! `#[derive(JsonSchema)]`: the `JsonSchema` impl of a struct or enum, built at run time from
//! the schemas of the field types, with serde's renames, defaults, skips, flattening and
//! enum tagging applied, and the `#[schema(...)]` edits.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Path, Result, Type};

pub use crate::attrs::crate_path as crate_path_of;
use crate::attrs::{doc, SchemaAttrs, SerdeContainer, SerdeMember};
use crate::case::RenameRule;

/// The `impl JsonSchema for ...` of `input`, naming the crate through `krate`.
pub fn derive(input: &DeriveInput, krate: &Path) -> Result<TokenStream> {
    let p = quote!(#krate::custom_resource::__private);
    let serde = SerdeContainer::from_attrs(&input.attrs)?;
    let schema = SchemaAttrs::from_attrs(&input.attrs, krate)?;
    let description = opt_str(doc(&input.attrs));

    let body = if let Some(with) = &schema.with {
        quote!(#with())
    } else {
        match &input.data {
            Data::Struct(data) => {
                struct_schema(&data.fields, &serde, None, &description, &p, krate)?
            }
            Data::Enum(data) => enum_schema(input, data, &serde, &description, &p, krate)?,
            Data::Union(_) => {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "JsonSchema cannot be derived for a union",
                ))
            }
        }
    };
    let edits = &schema.edits;

    let name = &input.ident;
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param
            .bounds
            .push(syn::parse_quote!(#krate::custom_resource::JsonSchema));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #krate::custom_resource::JsonSchema for #name #ty_generics #where_clause {
            fn schema() -> #p::JSONSchemaProps {
                #[allow(unused_mut)]
                let mut __schema: #p::JSONSchemaProps = { #body };
                {
                    #[allow(unused_variables)]
                    let __s = &mut __schema;
                    #(#edits)*
                }
                __schema
            }
        }
    })
}

fn opt_str(value: Option<String>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(tp) => tp.path.segments.last().is_some_and(|s| s.ident == "Option"),
        Type::Group(g) => is_option(&g.elem),
        Type::Paren(p) => is_option(&p.elem),
        _ => false,
    }
}

/// The schema expression of a struct's (or struct variant's) fields.
fn struct_schema(
    fields: &Fields,
    serde: &SerdeContainer,
    rename: Option<RenameRule>,
    description: &TokenStream,
    p: &TokenStream,
    krate: &Path,
) -> Result<TokenStream> {
    let rename = rename.or(serde.rename_all);
    match fields {
        Fields::Named(named) => {
            let mut steps = Vec::new();
            for field in &named.named {
                let member = SerdeMember::from_attrs(&field.attrs)?;
                if member.skip {
                    continue;
                }
                let attrs = SchemaAttrs::from_attrs(&field.attrs, krate)?;
                let ty = &field.ty;
                let may_require = !(member.default || serde.default || member.skip_serializing_if);
                if member.flatten {
                    if attrs.with.is_some() || !attrs.edits.is_empty() {
                        return Err(syn::Error::new(
                            field.span(),
                            "#[schema(...)] cannot be used on a #[serde(flatten)] field: put it on the flattened type",
                        ));
                    }
                    steps.push(
                        quote_spanned!(ty.span()=> #p::flatten::<#ty>(&mut __o, #may_require);),
                    );
                    continue;
                }
                let ident = field.ident.as_ref().map(syn::ext::IdentExt::unraw);
                let name = match (member.rename, ident) {
                    (Some(name), _) => name,
                    (None, Some(ident)) => {
                        let ident = ident.to_string();
                        rename.map_or(ident.clone(), |r| r.field(&ident))
                    }
                    (None, None) => continue,
                };
                let desc = opt_str(doc(&field.attrs));
                let edits = &attrs.edits;
                let edit = quote!(|__s: &mut #p::JSONSchemaProps| { #(#edits)* });
                if let Some(with) = &attrs.with {
                    let required = may_require && !is_option(ty);
                    steps.push(quote!(#p::property_with(&mut __o, #name, #required, #with(), #desc, #edit);));
                } else {
                    steps.push(quote_spanned!(ty.span()=> #p::property::<#ty>(&mut __o, #name, #may_require, #desc, #edit);));
                }
            }
            Ok(quote!({
                let mut __o = #p::object(#description);
                #(#steps)*
                __o
            }))
        }
        Fields::Unnamed(unnamed) if unnamed.unnamed.len() == 1 => {
            // A newtype is serialized as its content.
            let field = &unnamed.unnamed[0];
            let attrs = SchemaAttrs::from_attrs(&field.attrs, krate)?;
            let ty = &field.ty;
            let edits = &attrs.edits;
            let inner = match &attrs.with {
                Some(with) => quote!(#with()),
                None => {
                    quote_spanned!(ty.span()=> <#ty as #krate::custom_resource::JsonSchema>::schema())
                }
            };
            Ok(quote!({
                let mut __n = #inner;
                #p::describe(&mut __n, #description);
                {
                    let __s = &mut __n;
                    #(#edits)*
                }
                __n
            }))
        }
        Fields::Unnamed(_) => Err(syn::Error::new(
            fields.span(),
            "JsonSchema: tuples of several fields serialize as JSON arrays of mixed types, \
             which a structural schema cannot describe; use named fields",
        )),
        Fields::Unit => Err(syn::Error::new(
            fields.span(),
            "JsonSchema: a unit struct serializes as null, which a structural schema cannot \
             describe",
        )),
    }
}

fn enum_schema(
    input: &DeriveInput,
    data: &syn::DataEnum,
    serde: &SerdeContainer,
    description: &TokenStream,
    p: &TokenStream,
    krate: &Path,
) -> Result<TokenStream> {
    if serde.untagged || serde.content.is_some() {
        return Err(syn::Error::new(
            input.ident.span(),
            "JsonSchema: untagged and adjacently tagged enums have no structural schema; use \
             externally tagged (serde's default) or internally tagged (#[serde(tag = \"...\")]) \
             enums, or give the schema with #[schema(with = \"path::to::fn\")]",
        ));
    }
    let mut variants = Vec::new();
    for variant in &data.variants {
        let member = SerdeMember::from_attrs(&variant.attrs)?;
        if member.skip {
            continue;
        }
        let ident = variant.ident.to_string();
        let name = member.rename.clone().unwrap_or_else(|| {
            serde
                .rename_all
                .map_or(ident.clone(), |r| r.variant(&ident))
        });
        variants.push((variant, member, name));
    }
    if variants.is_empty() {
        return Err(syn::Error::new(
            input.ident.span(),
            "JsonSchema: an enum without serialized variants has no schema",
        ));
    }
    let all_unit = variants
        .iter()
        .all(|(v, _, _)| matches!(v.fields, Fields::Unit));

    if let Some(tag) = &serde.tag {
        let mut parts = Vec::new();
        for (variant, member, name) in &variants {
            let desc = opt_str(doc(&variant.attrs));
            let schema = match &variant.fields {
                Fields::Unit => quote!(::core::option::Option::None),
                Fields::Named(_) => {
                    let rule = member.rename_all.or(serde.rename_all_fields);
                    let inner = SerdeContainer::default();
                    let s = struct_schema(&variant.fields, &inner, rule, &desc, p, krate)?;
                    quote!(::core::option::Option::Some(#s))
                }
                Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                    let ty = &f.unnamed[0].ty;
                    quote_spanned!(ty.span()=> ::core::option::Option::Some(
                        <#ty as #krate::custom_resource::JsonSchema>::schema()))
                }
                Fields::Unnamed(_) => {
                    return Err(syn::Error::new(
                        variant.span(),
                        "JsonSchema: an internally tagged enum cannot have tuple variants",
                    ))
                }
            };
            parts.push(quote!((#name, #schema)));
        }
        return Ok(quote!(#p::internally_tagged(#description, #tag, ::std::vec![#(#parts),*])));
    }

    if all_unit {
        let names = variants.iter().map(|(_, _, n)| n);
        return Ok(quote!(#p::string_enum(#description, &[#(#names),*])));
    }
    let mut parts = Vec::new();
    for (variant, member, name) in &variants {
        let desc = opt_str(doc(&variant.attrs));
        let schema =
            match &variant.fields {
                Fields::Unit => return Err(syn::Error::new(
                    variant.span(),
                    "JsonSchema: this externally tagged enum mixes unit variants (serialized as \
                     strings) with data variants (serialized as objects), which a structural \
                     schema cannot describe; use #[serde(tag = \"...\")] or make every variant \
                     carry data",
                )),
                Fields::Named(_) => {
                    let rule = member.rename_all.or(serde.rename_all_fields);
                    let inner = SerdeContainer::default();
                    struct_schema(&variant.fields, &inner, rule, &desc, p, krate)?
                }
                Fields::Unnamed(_) => {
                    let inner = SerdeContainer::default();
                    struct_schema(&variant.fields, &inner, None, &desc, p, krate)?
                }
            };
        parts.push(quote!((#name, #schema)));
    }
    Ok(quote!(#p::externally_tagged(#description, ::std::vec![#(#parts),*])))
}

/// The path to k8s-client for `#[derive(JsonSchema)]` on `input`.
pub fn crate_path(input: &DeriveInput) -> Result<Path> {
    crate_path_of(&input.attrs)
}
