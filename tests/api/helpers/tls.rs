//! Throw-away TLS material for the tests of `rediss://` and PostgreSQL over TLS: a CA and
//! a server certificate for 127.0.0.1 / localhost it signed, made with `openssl`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA, and a server certificate (with its key) the CA signed.
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    /// Makes them in `dir`, named after `name` (each call: a CA of its own).
    pub fn make(dir: &Path, name: &str) -> Self {
        let f = |ext: &str| format!("{name}-{ext}");
        let (ca_key, ca, key, csr, cert, ext) = (
            f("ca.key"),
            f("ca.pem"),
            f("server.key"),
            f("server.csr"),
            f("server.pem"),
            f("ext.cnf"),
        );
        let subject = format!("/CN=qqbind test CA {name}");
        openssl(
            dir,
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &ca_key, "-out", &ca,
                "-days", "2", "-subj", &subject,
            ],
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(
            dir.join(&ext),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
        Self {
            ca: dir.join(ca),
            cert: dir.join(cert),
            key: dir.join(key),
        }
    }
}
