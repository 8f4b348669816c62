// The binary is static and self-contained: no start files beyond musl's, no dynamic loader,
// and a build that says so loudly when someone builds it for the wrong target.
include!("src/texts.rs");

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile_test = std::env::var("CARGO_CFG_TEST").is_ok();
    if !target.ends_with("-musl") && !profile_test {
        println!(
            "cargo:warning=sandbox is meant to be built for x86_64-unknown-linux-musl (static); \
             this is {target}"
        );
    }
    if target.ends_with("-musl") {
        // Fully static, no PIE: the loader-free binary starts fastest and has no relocations to apply.
        println!("cargo:rustc-link-arg-bins=-static");
        println!("cargo:rustc-link-arg-bins=-no-pie");
        // musl itself: its start files call our `main`, and it provides memcpy and friends.
        println!("cargo:rustc-link-arg-bins=-lc");
        // One read-only segment, no page padding between code and data: a smaller file.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,noseparate-code");
        println!("cargo:rustc-link-arg-bins=-Wl,--build-id=none");
        // Start at main.rs's entry: the C runtime's start-up code is then unreferenced and
        // left out (section GC), musl's memcpy and friends stay.
        println!("cargo:rustc-link-arg-bins=-Wl,-e,sandbox_start");
        // No RELRO segment: musl applies no relocations in a static non-PIE binary, so there is
        // nothing to protect after start, and its page alignment would pad the file by up to 4 KiB.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,norelro");
        // The writable data (a hundred bytes) starts right after the code in the file instead of
        // at the next 4 KiB page, which would pad the file by up to 4 KiB of zeros.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,common-page-size=64");
        // No unwind tables (a quarter of the size budget): panics abort and nothing walks the
        // stack. Only crtbegin's own frames stay, because its start-up code names them. The unit
        // tests' harness unwinds: it has a writable `.eh_frame.keep` (main.rs), and ONLY_IF_RO
        // then leaves its tables to the default script.
        let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
        let script = std::path::Path::new(&out).join("no-unwind.ld");
        std::fs::write(
            &script,
            "SECTIONS { /DISCARD/ : ONLY_IF_RO { EXCLUDE_FILE(*crtbegin*.o) *(.eh_frame .eh_frame.*) \
             *(.eh_frame_hdr) } /DISCARD/ : { *(.comment) } } INSERT BEFORE .init;\n",
        )
        .expect("write the linker script");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
    texts();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/texts.rs");
}

// The help, the steps' texts and the hints (src/texts.rs), those of sandbox-oci, then the OS
// reasons (the errno texts of the syscalls crate: errnos 1 to 133, then 512 to 531; "" where it
// has none), as one table, NUL between texts, compressed by byte pairs: the pair of symbols that
// recurs most becomes a new symbol (a byte no text holds), again and again. texts.bin holds the
// texts, pairs.bin the two symbols of each new one, text_at.rs where the parts after the CLI's
// start, why.rs sandbox-oci's reasons (compressed the same way).
fn texts() {
    let errno = |n: i32| syscalls::Errno::new(n).description().unwrap_or("");
    assert!((134..512).chain(532..4200).all(|n| errno(n).is_empty()), "the errno texts are where the table has room");
    let mut all: Vec<&str> = [HELP].iter().chain(WHAT.iter()).chain(HINTS.iter()).copied().collect();
    let oci_at = all.len();
    all.extend(OCI.iter().chain(OCI_WHAT.iter()).chain(OCI_HINTS.iter()));
    let errno_at = all.len();
    all.extend((1..134).chain(512..532).map(errno));
    // The reasons of sandbox-oci's lines, compressed with the same pairs into constants of their
    // own (why.rs) rather than into the table.
    let tables = all.len();
    all.extend(OCI_WHY.iter().map(|&(_, t)| t));
    assert!(HELP.len() < 4096, "the help fits the buffer main.rs prints it from");
    let mut seq: Vec<u8> = Vec::new();
    for (i, t) in all.iter().enumerate() {
        assert!(t.bytes().all(|c| (1..0x80).contains(&c)), "texts are ASCII without NUL");
        if i > 0 {
            seq.push(0);
        }
        seq.extend_from_slice(t.as_bytes());
    }
    // The new symbols: 0x80 to 0xff, then the control characters no text holds. pairs.bin has
    // the pair of symbol c at c ^ 0x80 ([0, 0] for a byte that stands for itself).
    let syms: Vec<u8> = (0x80..=0xff).chain((1..0x20).filter(|c| !seq.contains(c))).collect();
    let mut pairs = vec![[0u8; 2]; 0xa0];
    for &sym in &syms {
        let mut count = std::collections::HashMap::new();
        for w in seq.windows(2) {
            if w[0] != 0 && w[1] != 0 {
                *count.entry([w[0], w[1]]).or_insert(0usize) += 1;
            }
        }
        // The most frequent pair (the smallest of equals: the same table every build).
        let Some((&best, &n)) = count.iter().max_by_key(|&(p, n)| (*n, std::cmp::Reverse(*p))) else { break };
        if n < 4 {
            break;
        }
        pairs[(sym ^ 0x80) as usize] = best;
        let mut out = Vec::with_capacity(seq.len());
        let mut i = 0;
        while i < seq.len() {
            if i + 1 < seq.len() && [seq[i], seq[i + 1]] == best {
                out.push(sym);
                i += 2;
            } else {
                out.push(seq[i]);
                i += 1;
            }
        }
        seq = out;
    }
    // Check: every text comes back as it was.
    fn expand(pairs: &[[u8; 2]], c: u8, out: &mut Vec<u8>) {
        match pairs.get((c ^ 0x80) as usize) {
            Some(&[a, b]) if a != 0 => {
                expand(pairs, a, out);
                expand(pairs, b, out);
            }
            _ => out.push(c),
        }
    }
    for (i, t) in seq.split(|&c| c == 0).enumerate() {
        let mut out = Vec::new();
        for &c in t {
            expand(&pairs, c, &mut out);
        }
        assert_eq!(out, all[i].as_bytes(), "text {i} round-trips");
    }
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = std::path::Path::new(&out);
    let split: Vec<&[u8]> = seq.split(|&c| c == 0).collect();
    // All the reasons in one static: each a constant slice of it, and a number (its place in
    // OCI_WHY: a refusal of config.json is two bytes, the field's number and the reason's).
    let mut why = String::new();
    let mut blob: Vec<u8> = Vec::new();
    let mut at: Vec<usize> = Vec::new();
    let mut nums = String::new();
    for (i, (&(name, _), t)) in OCI_WHY.iter().zip(&split[tables..]).enumerate() {
        why += &format!("pub const {name}: &[u8] = BLOB.split_at({}).1.split_at({}).0;\n", blob.len(), t.len());
        nums += &format!("    pub const {name}: u8 = {i};\n");
        at.push(blob.len());
        blob.extend_from_slice(t);
    }
    at.push(blob.len());
    assert!(OCI_WHY.len() < 256 && blob.len() < 65536, "a reason's number is a byte, its place 16 bits");
    let bytes: String = blob.iter().map(|c| format!("\\x{c:02x}")).collect();
    why += &format!("static BLOB: [u8; {}] = *b\"{bytes}\";\n", blob.len());
    let at: Vec<String> = at.iter().map(|a| a.to_string()).collect();
    why += &format!("const AT: [u16; {}] = [{}];\n", at.len(), at.join(", "));
    why += "/// Reason number `i`.\npub fn text(i: u8) -> &'static [u8] {\n    let i = i as usize;\n    BLOB.get(AT[i] as usize..AT[i + 1] as usize).unwrap_or(b\"\")\n}\n";
    why += &format!("/// The reasons' numbers.\npub mod n {{\n{nums}}}\n");
    let names: Vec<&str> = OCI_WHY.iter().map(|&(n, _)| n).collect();
    why += &format!("#[cfg(test)]\npub const ALL: [&[u8]; {}] = [{}];\n", names.len(), names.join(", "));
    std::fs::write(dir.join("why.rs"), why).expect("write the reasons");
    let seq = split[..tables].join(&0);
    std::fs::write(dir.join("texts.bin"), &seq).expect("write the texts");
    while pairs.last() == Some(&[0, 0]) {
        pairs.pop();
    }
    std::fs::write(dir.join("pairs.bin"), pairs.concat()).expect("write the pairs");
    std::fs::write(
        dir.join("text_at.rs"),
        format!("pub const OCI_AT: usize = {oci_at};\npub const ERRNO_AT: usize = {errno_at};\n"),
    )
    .expect("write the text numbers");
}
