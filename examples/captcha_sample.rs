//! Writes a few captchas to /tmp to look at: `cargo run --example captcha_sample`.
fn main() {
    for i in 0..3 {
        if let Some((text, png)) = qqbind::codes::captcha::generate() {
            let path = format!("/tmp/captcha-{i}-{text}.png");
            if std::fs::write(&path, png).is_ok() {
                println!("{path}");
            }
        }
    }
}
