//! Bindings for the few libxmlsec1 and libxml2 items `src/ffi.rs` uses, generated from the
//! installed headers with the defines pkg-config gives: those defines change the layout of
//! xmlsec's structures (`XMLSEC_NO_SIZE_T`), so hand-written declarations could drift from the
//! library actually linked.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/xmlsec.h");
    let xmlsec = pkg_config::Config::new()
        .atleast_version("1.2.30")
        .probe("xmlsec1-openssl")
        .expect("libxmlsec1 with its OpenSSL backend (Debian: libxmlsec1-dev)");

    let mut builder = bindgen::Builder::default()
        .header("src/xmlsec.h")
        .allowlist_function(
            "xmlSec(Init|CheckVersionExt|IOCleanupCallbacks|DSigCtx(Create|Destroy|Verify|Sign)\
             |PtrList(Create|Destroy|Add|GetSize|GetItem)|TransformIdListGetKlass\
             |Transform(Enveloped|ExclC14N|ExclC14NWithComments)GetKlass\
             |OpenSSL(AppInit|Init|AppKeyLoadMemory|Transform(RsaSha(256|384|512)|Sha(256|384|512))GetKlass)\
             |FindChild|ErrorsDefaultCallbackEnableOutput|DSigReferenceCtxGetPreDigestBuffer|Buffer(GetData|GetSize)|Key(Destroy|Duplicate))",
        )
        .allowlist_function(
            "xml(InitParser|ReadMemory|FreeDoc|DocGetRootElement|HasProp|GetProp|AddID|DocDumpMemoryEnc)",
        )
        .allowlist_var("xmlFree|XMLSEC_VERSION_(MAJOR|MINOR|SUBMINOR)|XMLSEC_DSIG_FLAGS_.*|xmlSecTransformUriType.*|XML_PARSE_.*")
        .allowlist_type("xmlSecDSigStatus|xmlSecKeyDataFormat|xmlSecCheckVersionMode|xmlSecDSigReferenceCtx|xmlElementType|xmlParserOption")
        .derive_default(false)
        .layout_tests(false)
        .generate_comments(false);
    for path in &xmlsec.include_paths {
        builder = builder.clang_arg(format!("-I{}", path.display()));
    }
    for (name, value) in &xmlsec.defines {
        builder = builder.clang_arg(match value {
            Some(value) => format!("-D{name}={value}"),
            None => format!("-D{name}"),
        });
    }
    let bindings = builder.generate().expect("bindings for libxmlsec1");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write the libxmlsec1 bindings");
}
