//! systemd readiness notification (sd_notify), written in-tree: one
//! datagram to the unix socket named by NOTIFY_SOCKET. Without that
//! variable (not under systemd, or Type=simple) every call does nothing.

use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. "READY=1", "STATUS=holding") if systemd asked for it.
pub(super) fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let Ok(sock) = UnixDatagram::unbound() else { return };
    let bytes = path.as_encoded_bytes();
    let result = if let Some(name) = bytes.strip_prefix(b"@") {
        // An abstract socket name.
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), std::path::Path::new(&path))
    };
    if let Err(e) = result {
        crate::log::warn!("sd_notify {state:?}: {e}");
    }
}

/// Whether systemd supervises us with Type=notify.
pub(super) fn under_systemd() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sends_to_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("ipfo-sdn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let rx = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        std::env::set_var("NOTIFY_SOCKET", &path);
        super::notify("READY=1");
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
