//! `gen-test-protos DIR FILE.proto DESCRIPTOR_PATH`: compiles `DIR/FILE.proto` with
//! protox (no protoc), writes the serialized `FileDescriptorSet` next to it as
//! `<package>.bin` (Python builds its message classes from it) and the prost types as
//! `<package>.rs`, followed by prost-reflect's `ReflectMessage` for every message, read
//! from the descriptor set at `DESCRIPTOR_PATH` (a Rust path to the `.bin`'s bytes).
//!
//! The impls are written out rather than derived through prost-build's
//! `message_attribute`, whose path matches a message's nested messages too.

use std::fmt::Write as _;
use std::path::PathBuf;

use prost::Message;
use prost_build::Config;
use prost_types::DescriptorProto;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, file, descriptor_path] = args.as_slice() else {
        eprintln!("usage: gen-test-protos DIR FILE.proto DESCRIPTOR_PATH");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let mut set = protox::compile([file], [&dir]).unwrap_or_else(|error| {
        eprintln!("{error:?}");
        std::process::exit(1);
    });
    // Source positions would make the checked-in descriptor change with every comment.
    for file in &mut set.file {
        file.source_code_info = None;
    }
    let proto = set
        .file
        .iter()
        .find(|candidate| candidate.name() == file)
        .expect("the file is in its own descriptor set");
    let package = proto.package().to_owned();
    let mut impls = String::new();
    for message in &proto.message_type {
        reflect_impls(&mut impls, &package, "", message);
    }

    std::fs::write(dir.join(format!("{package}.bin")), set.encode_to_vec())
        .expect("the descriptor set is written");
    Config::new()
        .out_dir(&dir)
        .compile_fds(set)
        .expect("prost-build generates the types");
    let rust = dir.join(format!("{package}.rs"));
    let mut generated = std::fs::read_to_string(&rust).expect("prost-build wrote the types");
    write!(
        generated,
        "/// The descriptors of this package's messages, decoded once.\n\
         fn descriptor_pool() -> &'static ::prost_reflect::DescriptorPool {{\n\
         \x20   static POOL: ::std::sync::OnceLock<::prost_reflect::DescriptorPool> =\n\
         \x20       ::std::sync::OnceLock::new();\n\
         \x20   POOL.get_or_init(|| {{\n\
         \x20       ::prost_reflect::DescriptorPool::decode({descriptor_path})\n\
         \x20           .expect(\"the generated descriptor set decodes\")\n\
         \x20   }})\n\
         }}\n{impls}"
    )
    .unwrap();
    std::fs::write(&rust, generated).expect("the types are written");
}

/// `impl ReflectMessage` for `message` (at `module`, a Rust path prefix) and the
/// messages nested in it, which prost puts in a module named after their parent.
fn reflect_impls(out: &mut String, scope: &str, module: &str, message: &DescriptorProto) {
    if message
        .options
        .as_ref()
        .is_some_and(|options| options.map_entry())
    {
        return; // map entries are fields of their parent in Rust, not types
    }
    let full_name = format!("{scope}.{}", message.name());
    let rust_type = format!("{module}{}", upper_camel(message.name()));
    write!(
        out,
        "impl ::prost_reflect::ReflectMessage for {rust_type} {{\n\
         \x20   fn descriptor(&self) -> ::prost_reflect::MessageDescriptor {{\n\
         \x20       descriptor_pool()\n\
         \x20           .get_message_by_name(\"{full_name}\")\n\
         \x20           .expect(\"`{full_name}` is in the generated descriptor set\")\n\
         \x20   }}\n\
         }}\n"
    )
    .unwrap();
    let nested_module = format!("{module}{}::", snake(message.name()));
    for nested in &message.nested_type {
        reflect_impls(out, &full_name, &nested_module, nested);
    }
}

/// prost's type name for a message name already in UpperCamelCase (as the style guide
/// asks); underscores are dropped and the letter after them raised.
fn upper_camel(name: &str) -> String {
    let mut out = String::new();
    let mut raise = true;
    for character in name.chars() {
        if character == '_' {
            raise = true;
        } else if raise {
            out.extend(character.to_uppercase());
            raise = false;
        } else {
            out.push(character);
        }
    }
    out
}

/// prost's module name for a message: snake_case.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (index, character) in name.chars().enumerate() {
        if character.is_uppercase() {
            if index > 0 {
                out.push('_');
            }
            out.extend(character.to_lowercase());
        } else {
            out.push(character);
        }
    }
    out
}
