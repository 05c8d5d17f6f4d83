//! The openid token verifier and the API state verifier take anything a client sends:
//! no input panics them, and none verifies that we did not sign.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qqbind::signer::Signer;

fuzz_target!(|data: &[u8]| {
    let signer = Signer::new(b"fuzz-secret-key-0123456789abcdef-0123");
    let text = String::from_utf8_lossy(data);
    let (token, binding) = text.split_once('\n').unwrap_or((&text, ""));
    for now in [0, 1_800_000_000, i64::MAX, i64::MIN] {
        assert!(signer.verify_openid(token, binding, now).is_err());
        assert!(signer.verify_state(token, now).is_err());
    }
    assert!(!signer.verify_csrf(binding, token));
});
