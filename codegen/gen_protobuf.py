#!/usr/bin/env python3
"""Generates k8s-client/src/protobuf/generated/v1_XX.rs: protobuf codecs for k8s-openapi types.

Run by hand from the repository root (the output is committed):

    python3 codegen/gen_protobuf.py

Inputs, read at generation time:
  * the Kubernetes `.proto` schemas (message and field numbers, wire types) from the Go module
    cache: k8s.io/api, k8s.io/apimachinery, k8s.io/apiextensions-apiserver;
  * the Go types (`types*.go` beside each `generated.proto`): for each field, whether the Go
    field is a pointer, whether its JSON tag has `omitempty`, and its JSON name (the bridge
    between a proto field number and the k8s-openapi field);
  * the k8s-openapi 0.29 sources of one Kubernetes version (struct names, field names, Rust
    types, `#[derive(Default)]`).

Matching: a proto message `k8s.io.X.Y` maps to the k8s-openapi struct whose file says
`// Generated from definition io.k8s.X.Y`; a proto field maps through the Go field with the same
protobuf number to its JSON name, then to the Rust field deserialized from that JSON name.
Types listed in HAND_WRITTEN have hand-written codecs in k8s-client/src/protobuf/special.rs.
"""

import glob
import subprocess
import os
import re
import sys

HOME = os.path.expanduser("~")
MOD = os.path.join(HOME, "go/pkg/mod/k8s.io")
OPENAPI = glob.glob(os.path.join(HOME, ".cargo/registry/src/*/k8s-openapi-0.29.0/src"))[0]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "k8s-client/src/protobuf/generated")

# (k8s-openapi version module, Go module version of the schemas)
TARGETS = [("v1_33", "0.33.13"), ("v1_36", "0.36.3"), ("v1_37", "0.36.3")]

# Messages whose codecs are hand-written (special JSON shapes or wrapper types).
HAND_WRITTEN = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "k8s.io.apimachinery.pkg.api.resource.Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
}
# `repeated string items = 1` wrappers of Go named slices: k8s-openapi uses Vec<String>.
STRING_LIST_WRAPPERS = {"ExtraValue", "Verbs"}
PROTOS = {}
# Go named scalar types (`type NodePhase string`), collected while reading Go sources.
SCALAR_ALIASES = {}
SCALARS = {"string", "bool", "int32", "int64", "double", "bytes"}


def proto_files(ver):
    roots = [
        f"{MOD}/api@v{ver}",
        f"{MOD}/apimachinery@v{ver}/pkg/apis/meta/v1",
        f"{MOD}/apimachinery@v{ver}/pkg/runtime",
        f"{MOD}/apimachinery@v{ver}/pkg/util/intstr",
        f"{MOD}/apimachinery@v{ver}/pkg/api/resource",
        f"{MOD}/apiextensions-apiserver@v{ver}/pkg/apis/apiextensions/v1",
    ]
    out = []
    for r in roots:
        if r.endswith("/runtime"):
            out.append(os.path.join(r, "generated.proto"))
        else:
            out += glob.glob(os.path.join(r, "**/generated.proto"), recursive=True)
    return sorted(out)


def strip_comments(text):
    return re.sub(r"//[^\n]*", "", text)


FIELD_RE = re.compile(
    r"^\s*(optional|repeated|required)?\s*(map<\s*string\s*,\s*([\w.]+)\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;"
)


def parse_proto(path):
    text = strip_comments(open(path).read())
    package = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)
    messages = {}
    for m in re.finditer(r"^message\s+(\w+)\s*\{(.*?)^\}", text, re.M | re.S):
        fields = []
        for line in m.group(2).splitlines():
            f = FIELD_RE.match(line)
            if not f:
                if line.strip():
                    sys.exit(f"{path}: unparsed line in {m.group(1)}: {line!r}")
                continue
            label, typ, map_val, name, num = f.groups()
            if map_val:
                fields.append(dict(label="map", type=qualify(map_val, package), name=name, num=int(num)))
            else:
                fields.append(dict(label=label or "optional", type=qualify(typ, package), name=name, num=int(num)))
        messages[f"{package}.{m.group(1)}"] = dict(name=m.group(1), fields=fields, dir=os.path.dirname(path))
    return messages


def qualify(typ, package):
    if typ in SCALARS:
        return typ
    if typ.startswith("."):
        return typ[1:]
    return f"{package}.{typ}"


GO_FIELD_RE = re.compile(r"^\s+(?:(\w+)\s+)?(\S[^`]*?)\s+`([^`]*)`")


def parse_go_dir(d, cache={}):
    """struct name -> {proto number: (go type, json name, omitempty)}"""
    if d in cache:
        return cache[d]
    structs = {}
    for path in glob.glob(os.path.join(d, "*.go")):
        if path.endswith("_test.go"):
            continue
        text = open(path).read()
        for m in re.finditer(r"^type\s+(\w+)\s+(string|bool|int32|int64|float64)\s*$", text, re.M):
            SCALAR_ALIASES[m.group(1)] = m.group(2)
        for m in re.finditer(r"^type\s+(\w+)\s+struct\s*\{(.*?)^\}", text, re.M | re.S):
            fields = {}
            for line in m.group(2).splitlines():
                f = GO_FIELD_RE.match(line)
                if not f:
                    continue
                tag = f.group(3)
                pb = re.search(r'protobuf:"(\w+),(\d+),', tag)
                js = re.search(r'json:"([^"]*)"', tag)
                if not pb or not js:
                    continue
                parts = js.group(1).split(",")
                fields[int(pb.group(2))] = (f.group(2), parts[0], "omitempty" in parts[1:])
            structs[m.group(1)] = fields
    cache[d] = structs
    return structs


def parse_rust(version):
    """definition name (k8s.io.X) -> dict(path, fields=[(name, type, json)], default, newtype)"""
    out = {}
    for path in glob.glob(os.path.join(OPENAPI, version, "**/*.rs"), recursive=True):
        text = open(path).read()
        d = re.match(r"// Generated from definition io\.k8s\.([\w.-]+)", text)
        if not d:
            continue
        definition = "k8s.io." + d.group(1).replace("-", "_")
        s = re.search(r"#\[derive\(([^)]*)\)\]\s*pub (struct|enum) (\w+)(\s*\{(.*?)^\}|\((.*?)\);)", text, re.M | re.S)
        if not s:
            continue
        rel = os.path.relpath(path, os.path.join(OPENAPI, version))
        module = "::".join(rel.split(os.sep)[:-1])
        rust_path = f"k8s_openapi::{module}::{s.group(3)}"
        entry = dict(path=rust_path, default="Default" in s.group(1), kind=s.group(2), fields=[], newtype=s.group(6))
        if s.group(2) == "struct" and s.group(5) is not None:
            jsonmap = dict(re.findall(r'"([^"]+)" => Field::Key_(\w+),', text))
            by_field = {v: k for k, v in jsonmap.items()}
            for fm in re.finditer(r"^    pub (\w+): (.*),$", s.group(5), re.M):
                fname, ftype = fm.group(1), fm.group(2)
                entry["fields"].append((fname, ftype.replace("crate::", "k8s_openapi::"), by_field.get(fname)))
        out[definition] = entry
    return out


def shape(rust_type):
    """(container, leaf): container in required/option/vec/option_vec/map/option_map."""
    t = rust_type
    opt = False
    if t.startswith("Option<"):
        opt, t = True, t[len("Option<"):-1]
    if t.startswith("std::vec::Vec<"):
        return ("option_vec" if opt else "vec"), t[len("std::vec::Vec<"):-1]
    if t.startswith("std::collections::BTreeMap<std::string::String, "):
        return ("option_map" if opt else "map"), t[len("std::collections::BTreeMap<std::string::String, "):-1]
    return ("option" if opt else "required"), t


def leaf_compatible(proto_type, leaf, rust):
    if proto_type == "string":
        return leaf == "std::string::String"
    if proto_type == "bool":
        return leaf == "bool"
    if proto_type in ("int32", "int64"):
        return leaf in ("i32", "i64")
    if proto_type == "double":
        return leaf == "f64"
    if proto_type == "bytes":
        return leaf == "k8s_openapi::ByteString"
    short = proto_type.rsplit(".", 1)[1]
    if short in STRING_LIST_WRAPPERS:
        return leaf == "std::vec::Vec<std::string::String>"
    target = rust.get(proto_type)
    leaf = leaf.removeprefix("std::boxed::Box<").removesuffix(">")
    return target is not None and target["path"] == leaf


def zero_is_none(go):
    """A non-pointer Go scalar with omitempty: JSON omits its zero value, proto always sends it."""
    if go is None:
        return False
    go_type, _, omitempty = go
    go_type = SCALAR_ALIASES.get(go_type.rsplit(".", 1)[-1], go_type)
    return omitempty and go_type in ("string", "bool", "int32", "int64", "float64")


def generate(version, gover):
    protos = PROTOS
    protos.clear()
    for p in proto_files(gover):
        protos.update(parse_proto(p))
    rust = parse_rust(version)
    for msg in protos.values():
        parse_go_dir(msg["dir"])
    parse_go_dir(f"{MOD}/apimachinery@v{gover}/pkg/types")  # types.UID, types.NodeName
    impls, report, paths = [], [], []
    for full in sorted(protos):
        msg = protos[full]
        if full in HAND_WRITTEN or msg["name"] in STRING_LIST_WRAPPERS:
            continue
        r = rust.get(full)
        if r is None or r["kind"] != "struct":
            continue
        go = parse_go_dir(msg["dir"]).get(msg["name"], {})
        if r["newtype"] is not None:
            if msg["fields"] or "serde_json::Value" not in r["newtype"]:
                report.append(f"skip {full}: newtype {r['newtype']} with proto fields")
                continue
            impls.append(empty_object_impl(r))
            paths.append(r["path"])
            continue
        impls.append(struct_impl(full, msg, r, go, rust, report))
        paths.append(r["path"])
    impls.append(register_fn(paths))
    return impls, report


def register_fn(paths):
    """The list of every type with a codec, for the run-time lookup behind `Api<K>`."""
    lines = "".join(f"    r.add::<{p}>();\n" for p in paths)
    return (
        "/// Adds every type above to the codec registry (`Api<K>` finds its codec by `TypeId`).\n"
        "pub(super) fn register(r: &mut super::registry::Registry) {\n" + lines + "}\n"
    )


def empty_object_impl(r):
    p = r["path"]
    return (
        f"impl ProtobufMessage for {p} {{\n"
        f"    fn encode_fields(&self, _buf: &mut Vec<u8>) {{}}\n"
        f"    fn decode_fields(bytes: &[u8]) -> Result<Self, DecodeError> {{\n"
        f"        skip_all(bytes, \"{p.rsplit('::', 1)[1]}\")?;\n"
        f"        Ok({p}(serde_json::Value::Object(Default::default())))\n"
        f"    }}\n"
        f"}}\n"
        f"message_value!({p}, default);\n"
    )


def field_code(full, msg, go, rust, by_json, used, out, report, depth):
    """Appends to out (enc, vars, arms, build) the code for msg's fields; inline (embedded) Go
    structs, which are nested messages in proto but flattened in JSON, recurse."""
    enc, dec_vars, dec_arms, build = out
    pad = "    " * depth
    for f in msg["fields"]:
        g = go.get(f["num"])
        json_name = g[1] if g else f["name"]
        n = f["num"]
        if g is not None and json_name == "" and f["type"] in PROTOS:
            sub = PROTOS[f["type"]]
            sub_go = parse_go_dir(sub["dir"]).get(sub["name"], {})
            sub_out = ([], dec_vars, [], build)
            field_code(f"{full}.{f['name']}", sub, sub_go, rust, by_json, used, sub_out, report, depth + 1)
            enc.append(f"put_inline(buf, {n}, |buf| {{")
            enc.extend("    " + l for l in sub_out[0])
            enc.append("});")
            dec_arms.append(f"{n} => {{")
            dec_arms.append(f"    let mut r = r.inline(wire, \"{f['name']}\")?;")
            dec_arms.append("    while let Some((tag, wire)) = r.next_key()? {")
            dec_arms.append("        match tag {")
            dec_arms.extend("            " + l for l in sub_out[2])
            dec_arms.append("            _ => r.skip(wire)?,")
            dec_arms.append("        }")
            dec_arms.append("    }")
            dec_arms.append("}")
            continue
        if json_name not in by_json:
            report.append(f"{full}.{f['name']} ({n}): no k8s-openapi field '{json_name}', skipped on decode")
            continue
        rname, rtype = by_json[json_name]
        container, leaf = shape(rtype)
        short_type = f["type"].rsplit(".", 1)[-1]
        if short_type in STRING_LIST_WRAPPERS and f["label"] == "optional" and container in ("vec", "option_vec"):
            container, leaf = ("required" if container == "vec" else "option"), "std::vec::Vec<std::string::String>"
        proto_container = {"map": "map", "repeated": "vec"}.get(f["label"], "one")
        rust_container = {"required": "one", "option": "one", "vec": "vec", "option_vec": "vec", "map": "map", "option_map": "map"}[container]
        if proto_container != rust_container or not leaf_compatible(f["type"], leaf, rust):
            report.append(f"{full}.{f['name']}: proto {f['label']} {f['type']} vs rust {rtype}: skipped")
            continue
        used.add(rname)
        field = f"self.{rname}"
        if container == "required":
            enc.append(f"put(buf, {n}, &{field});")
        elif container == "option":
            enc.append(f"put_opt(buf, {n}, &{field});")
        elif container == "vec":
            enc.append(f"put_repeated(buf, {n}, &{field});")
        elif container == "option_vec":
            enc.append(f"put_repeated(buf, {n}, {field}.as_deref().unwrap_or_default());")
        elif container == "map":
            enc.append(f"put_map(buf, {n}, &{field});")
        else:
            enc.append(f"put_map_opt(buf, {n}, &{field});")
        var = f"f_{rname}"
        if container in ("required", "option"):
            dec_vars.append(f"let mut {var} = None;")
            dec_arms.append(f"{n} => r.one(wire, &mut {var}, \"{json_name}\")?,")
        elif container in ("vec", "option_vec") and full.endswith("meta.v1.ObjectMeta") and json_name == "managedFields":
            # Callers that drop managedFields anyway (informers that strip them) skip the bytes
            # instead of building the entries (see runtime::decode_without_managed_fields).
            dec_vars.append(f"let mut {var} = Vec::new();")
            dec_arms.append(f"{n} if skipping_managed_fields() => r.skip(wire)?,")
            dec_arms.append(f"{n} => r.repeated(wire, &mut {var}, \"{json_name}\")?,")
        elif container in ("vec", "option_vec"):
            dec_vars.append(f"let mut {var} = Vec::new();")
            dec_arms.append(f"{n} => r.repeated(wire, &mut {var}, \"{json_name}\")?,")
        else:
            dec_vars.append(f"let mut {var} = BTreeMap::new();")
            dec_arms.append(f"{n} => r.entry(wire, &mut {var}, \"{json_name}\")?,")
        if container == "required":
            build.append(f"{rname}: r.required({var}, \"{json_name}\")?,")
        elif container == "option":
            build.append(f"{rname}: {'non_zero(' + var + ')' if zero_is_none(g) else var},")
        elif container in ("option_vec", "option_map"):
            build.append(f"{rname}: non_empty({var}),")
        elif container == "vec":
            build.append(f"{rname}: exact({var}),")
        else:
            build.append(f"{rname}: {var},")


def struct_impl(full, msg, r, go, rust, report):
    p = r["path"]
    short = p.rsplit("::", 1)[1]
    by_json = {j: (n, t) for n, t, j in r["fields"] if j}
    used = set()
    enc, dec_vars, dec_arms, build = [], [], [], []
    field_code(full, msg, go, rust, by_json, used, (enc, dec_vars, dec_arms, build), report, 0)
    for rname, rtype, _ in r["fields"]:
        if rname not in used:
            report.append(f"{full}: k8s-openapi field {rname} is not in the schema: left at its default")
            build.append(f"{rname}: Default::default(), // not in the {msg['name']} proto schema")
    ind = lambda lines, k: "".join(" " * k + l + "\n" for l in lines)
    body = (
        f"impl ProtobufMessage for {p} {{\n"
        f"    fn encode_fields(&self, buf: &mut Vec<u8>) {{\n"
        + (ind(enc, 8) if enc else "        let _ = buf;\n")
        + "    }\n\n"
        f"    fn decode_fields(bytes: &[u8]) -> Result<Self, DecodeError> {{\n"
        + ind(dec_vars, 8)
        + f"        let mut r = Reader::new(bytes, \"{short}\");\n"
        + "        while let Some((tag, wire)) = r.next_key()? {\n"
        + "            match tag {\n"
        + ind(dec_arms, 16)
        + "                _ => r.skip(wire)?,\n"
        + "            }\n"
        + "        }\n"
        + f"        Ok({p} {{\n"
        + ind(build, 12)
        + "        })\n"
        + "    }\n"
        + "}\n"
        + f"message_value!({p}{', default' if r['default'] else ''});\n"
    )
    return body


def main():
    os.makedirs(OUT, exist_ok=True)
    for version, gover in TARGETS:
        impls, report = generate(version, gover)
        header = (
            f"// @generated by codegen/gen_protobuf.py: do not edit.\n"
            f"// Protobuf codecs for the k8s-openapi 0.29 `{version}` types, from the `.proto` schemas and Go\n"
            f"// types of k8s.io/api, k8s.io/apimachinery and k8s.io/apiextensions-apiserver v{gover}.\n"
            f"// {len(impls) - 1} messages. Fields the schema has and k8s-openapi lacks (or the reverse) are\n"
            f"// listed in codegen/report_{version}.txt.\n"
            f"#![allow(clippy::all, unused_mut)]\n\n"
            f"use std::collections::BTreeMap;\n\n"
            f"use crate::api::protobuf::runtime::*;\n\n"
        )
        path = os.path.join(OUT, f"{version}.rs")
        with open(path, "w") as fh:
            fh.write(header + "\n".join(impls))
        subprocess.run(["rustfmt", "--edition", "2021", path], check=True)
        with open(os.path.join(os.path.dirname(OUT), "..", "..", "..", "codegen", f"report_{version}.txt"), "w") as fh:
            fh.write("\n".join(report) + "\n")
        print(version, len(impls), "impls,", len(report), "report lines")


if __name__ == "__main__":
    main()
