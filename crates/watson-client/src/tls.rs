//! Process-wide TLS set-up. Every TLS user in the crate (kube client, IBM client, simulator)
//! uses rustls with the `ring` provider; this installs it once so no crate picks another.

/// Installs the `ring` crypto provider as the process default. Idempotent.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
