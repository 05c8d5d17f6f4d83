//! Form bodies as the app decodes them (serde_urlencoded into the handlers' own form
//! types), then the parsers every field goes through: nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qqbind::domain::{Mobile, NextPath, Password, Username};

fuzz_target!(|data: &[u8]| {
    let _ = serde_urlencoded::from_bytes::<qqbind::web::routes::qq::BindFormData>(data);
    let _ = serde_urlencoded::from_bytes::<qqbind::web::routes::register::RegisterForm>(data);
    let _ = serde_urlencoded::from_bytes::<qqbind::web::routes::login::LoginForm>(data);
    if let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) {
        for (_, value) in fields {
            let _ = Mobile::parse(&value);
            let _ = Password::parse(&value);
            let _ = Username::parse(&value);
            let next = NextPath::sanitise(Some(&value));
            assert!(next.as_str().starts_with('/') && !next.as_str().starts_with("//"));
        }
    }
});
